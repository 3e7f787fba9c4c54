/**
 * The package's entry in browsers and bundlers (package.json "exports", condition "browser"): the
 * whole API (api.ts) without any import of Node's modules, so a bundle never meets node:fs. The
 * file functions of the Node entry exist with the same signatures and throw a BpttError that
 * names the in-memory function to use instead.
 */
import type { Corpus } from "./data/corpus.ts";
import type { ReadCorpusOptions } from "./data/node-files.ts";
import { BpttError } from "./errors.ts";
import type { Checkpoint } from "./io/checkpoint.ts";

export * from "./api.ts";
// the kernels and the thread host of a browser's training worker, in one async call
export { loadBrowserKernels, type BrowserKernels, type BrowserKernelsOptions } from "./model/browser-kernels.ts";

/**
 * Node only. In a browser: `decodeText(new Uint8Array(await file.arrayBuffer()))`.
 * @param path unused
 * @returns never
 * @throws BpttError always
 */
export function readTextFile(path: string): string {
  throw nodeOnly(`readTextFile(${JSON.stringify(path)})`, "decodeText(new Uint8Array(await file.arrayBuffer()))");
}

/**
 * Node only. In a browser: `encodeCorpus({ name: file.name, size: bytes.length, chunks: () => [bytes] })`
 * with `bytes = new Uint8Array(await file.arrayBuffer())`: ids without building a string.
 * @param path unused
 * @param _options unused
 * @returns never
 * @throws BpttError always
 */
export function readCorpusFile(path: string, _options?: ReadCorpusOptions): Corpus {
  throw nodeOnly(
    `readCorpusFile(${JSON.stringify(path)})`,
    "encodeCorpus({ name: file.name, size: bytes.length, chunks: () => [bytes] }) with bytes = new Uint8Array(await file.arrayBuffer())",
  );
}

/**
 * Node only. In a browser: `checkpointFromBytes(new Uint8Array(await file.arrayBuffer()), file.name)`.
 * @param path unused
 * @returns never
 * @throws BpttError always
 */
export function loadCheckpoint(path: string): Checkpoint {
  throw nodeOnly(`loadCheckpoint(${JSON.stringify(path)})`, "checkpointFromBytes(new Uint8Array(await file.arrayBuffer()), file.name)");
}

/**
 * Node only. In a browser: `checkpointToBytes(checkpoint)`, e.g. into a Blob to download.
 * @param path unused
 * @param _checkpoint unused
 * @throws BpttError always
 */
export function saveCheckpoint(path: string, _checkpoint: Checkpoint): void {
  throw nodeOnly(`saveCheckpoint(${JSON.stringify(path)}, …)`, "checkpointToBytes(checkpoint) (e.g. into a Blob to download)");
}

function nodeOnly(call: string, instead: string): BpttError {
  return new BpttError(`${call} reads or writes files, which only Node can do; in a browser use ${instead}`);
}
