/**
 * Reading text files in Node. The only file in src/data that touches `node:fs`; the browser
 * playground passes the bytes of an uploaded file to `decodeText` instead.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { DataError } from "../errors.ts";
import { encodeCorpus, type ByteSource, type Corpus, type EncodeCorpusOptions } from "./corpus.ts";
import { decodeText, MAX_STRING_LENGTH, tooLongForString } from "./text.ts";

/** Bytes read at a time by `readCorpusFile`: large enough that a read costs nothing next to decoding it. */
export const CORPUS_CHUNK_BYTES = 16 * 2 ** 20;

/** Options of `readCorpusFile`. */
export interface ReadCorpusOptions extends EncodeCorpusOptions {
  /** Bytes read at a time (the reader's one buffer). Default CORPUS_CHUNK_BYTES (16 MiB). */
  readonly chunkBytes?: number;
}

/**
 * Read a UTF-8 text file as token ids, in chunks, never holding it as one string: for a corpus of
 * any size that its ids fit in memory (1 byte a character for V ≤ 256, 2 for V ≤ 65,536; buffers
 * of bounded size besides). Two passes over the file (its vocabulary, then the ids), or one when
 * `symbols` gives the vocabulary (a resumed checkpoint's). The same file gives the same ids as
 * `encode(buildVocab(readTextFile(path)), …)`, and is refused for the same reasons. A pipe
 * (`<(zcat corpus.gz)`) is read once and its bytes kept for the passes.
 * @param path the file's path
 * @param options the vocabulary to encode with, unknown characters, progress, chunk size
 * @returns `{ ids, symbols }`, which `train` takes as `text` and `evaluateIds` as its ids
 * @throws DataError naming the path when the file is missing, a directory or unreadable, is not
 *   UTF-8 text (with the offset of the first bad byte), or holds characters outside `symbols`
 */
export function readCorpusFile(path: string, options: ReadCorpusOptions = {}): Corpus {
  const chunkBytes = options.chunkBytes ?? CORPUS_CHUNK_BYTES;
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1)) {
    throw new DataError(`readCorpusFile: chunkBytes must be an integer ≥ 1; received ${chunkBytes}`);
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e: unknown) {
    throw fileError(path, e);
  }
  try {
    let regular: boolean;
    try {
      const stat = fstatSync(fd);
      if (stat.isDirectory()) throw new DataError(`${path} is a directory; expected a text file; pass the path of a file inside it`);
      regular = stat.isFile();
    } catch (e: unknown) {
      throw fileError(path, e);
    }
    return encodeCorpus(regular ? fileSource(path, fd, chunkBytes) : streamSource(path, fd, chunkBytes), options);
  } finally {
    closeSync(fd);
  }
}

/** A regular file, read from its start for every pass through one buffer. */
function fileSource(path: string, fd: number, chunkBytes: number): ByteSource {
  const size = fstatSync(fd).size;
  const buffer = new Uint8Array(Math.max(1, Math.min(chunkBytes, size)));
  return {
    name: path,
    size,
    *chunks() {
      for (let at = 0; ; ) {
        const got = readChunk(path, fd, buffer, at);
        if (got === 0) return;
        at += got;
        yield buffer.subarray(0, got);
      }
    },
  };
}

/**
 * A pipe or a device (`--data <(zcat corpus.gz)`, /dev/stdin), which can be read once only: its
 * bytes are kept, in chunks, for the passes over them (memory: the bytes besides the ids).
 */
function streamSource(path: string, fd: number, chunkBytes: number): ByteSource {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const buffer = new Uint8Array(chunkBytes);
    const got = readChunk(path, fd, buffer, null);
    if (got === 0) break;
    parts.push(got === chunkBytes ? buffer : buffer.slice(0, got));
    size += got;
  }
  return { name: path, size, chunks: () => parts };
}

/** readSync with the path in its errors; `at` null reads on from the current position. */
function readChunk(path: string, fd: number, buffer: Uint8Array, at: number | null): number {
  try {
    return readSync(fd, buffer, 0, buffer.length, at);
  } catch (e: unknown) {
    throw fileError(path, e);
  }
}

/**
 * Read a UTF-8 text file as one string: at most MAX_STRING_LENGTH UTF-16 units (about 512 MiB of
 * ASCII); a larger corpus is read as ids with `readCorpusFile`.
 * @param path the file's path
 * @returns the text, without a leading byte-order mark
 * @throws DataError naming the path when the file is missing, a directory or unreadable, too large
 *   for one string, or when `decodeText` rejects it
 */
export function readTextFile(path: string): string {
  let bytes: Uint8Array;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      throw new DataError(`${path} is a directory; expected a text file; pass the path of a file inside it`);
    }
    // 3-byte characters are the fewest UTF-16 units per byte: past 3 × the limit no text fits one string
    if (stat.size > 3 * MAX_STRING_LENGTH) throw tooLongForString(path, stat.size);
    bytes = readFileSync(path);
  } catch (e: unknown) {
    throw fileError(path, e);
  }
  return decodeText(bytes, path);
}

/** The DataError for a failed file operation, naming the path (a DataError passes through). */
function fileError(path: string, e: unknown): DataError {
  if (e instanceof DataError) return e;
  const code = errorCode(e);
  if (code === "ENOENT") return new DataError(`${path} does not exist; expected a text file; check the path`);
  if (code === "EACCES" || code === "EPERM") {
    return new DataError(`${path} cannot be read (permission denied); expected a readable text file; check its permissions`);
  }
  if (code === "EISDIR") return new DataError(`${path} is a directory; expected a text file; pass the path of a file inside it`);
  const detail = e instanceof Error ? e.message : String(e);
  return new DataError(`${path} cannot be read (${detail}); expected a readable text file`);
}

function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined;
  const code: unknown = e.code;
  return typeof code === "string" ? code : undefined;
}
