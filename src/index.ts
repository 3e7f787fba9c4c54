/**
 * The package's entry in Node: the whole API (api.ts) and the functions that read and write files.
 * Browsers and bundlers get browser.ts instead (package.json "exports", condition "browser").
 */
export * from "./api.ts";
export { CORPUS_CHUNK_BYTES, readCorpusFile, readTextFile, type ReadCorpusOptions } from "./data/node-files.ts";
export { loadCheckpoint, saveCheckpoint } from "./io/checkpoint-file.ts";
export { FileWriteError } from "./io/atomic.ts";
