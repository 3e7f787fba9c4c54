/**
 * Turning raw bytes into training text, and the train/validation split.
 * Takes bytes, not paths, so it runs in the browser; `node-files.ts` reads files in Node.
 */
import { ConfigError, DataError } from "../errors.ts";
import { Utf8Decoder } from "./utf8.ts";
import type { TokenIds } from "./vocab.ts";

/** Largest accepted validation fraction. */
export const MAX_VAL_FRACTION = 0.5;

/** Share of control bytes (other than \t \n \r) above which a file is taken for binary. */
const CONTROL_FRACTION = 0.1;
/** Code points decoded at a time into a scratch buffer (256 KiB: stays in cache). */
export const SCRATCH_CODE_POINTS = 1 << 16;

/** Longest JavaScript string V8 builds (UTF-16 units): a text past it must be read as ids (readCorpusFile). */
export const MAX_STRING_LENGTH = 2 ** 29 - 24;

/**
 * Decode a text file's bytes as strict UTF-8, dropping a leading byte-order mark.
 * @param bytes the file's contents
 * @param source what the bytes are (a path, "uploaded file"), named in every error
 * @returns the text
 * @throws DataError when the bytes are empty, look binary, are UTF-16, are not valid UTF-8 (naming
 *   the offset of the first bad byte) or make a text longer than a JavaScript string can be
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  checkTextStart(bytes, source);
  const counts = controlCounts();
  countControlBytes(bytes, counts);
  checkNotBinary(counts, source, true);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); // ignoreBOM false: a leading BOM is dropped
  } catch (e: unknown) {
    throwFirstUtf8Error(bytes, source); // TextDecoder does not say where; this does
    // valid UTF-8, so what failed is the string's length
    if (bytes.length > MAX_STRING_LENGTH) throw tooLongForString(source, bytes.length);
    throw e;
  }
  if (text.length === 0) throw new DataError(`${source} is empty (only a byte-order mark); expected at least one character`);
  return text;
}

/**
 * Refuse bytes that cannot start a UTF-8 text: none at all, or a UTF-16 byte-order mark.
 * @param head the first bytes of the text (its first chunk; the whole text when it is in memory)
 * @param source what the bytes are, named in the error
 * @throws DataError when `head` is empty or starts with a UTF-16 byte-order mark
 */
export function checkTextStart(head: Uint8Array, source: string): void {
  if (head.length === 0) throw new DataError(`${source} is empty; expected a UTF-8 text file with at least one character`);
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    throw new DataError(
      `${source} is UTF-16 text (it starts with a UTF-16 byte-order mark); expected UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8`,
    );
  }
}

/** Running counts of the bytes that tell a binary file from text, over the bytes seen so far. */
export interface ControlCounts {
  /** Bytes counted. */
  bytes: number;
  /** NUL bytes. */
  nul: number;
  /** Other control bytes than \t \n \r (0x01–0x1F, 0x7F). */
  control: number;
}

/** @returns zeroed counts for `countControlBytes` */
export function controlCounts(): ControlCounts {
  return { bytes: 0, nul: 0, control: 0 };
}

/**
 * Add the NUL and control bytes of a chunk to the counts.
 * @param bytes the next chunk of the text
 * @param counts updated in place
 */
export function countControlBytes(bytes: Uint8Array, counts: ControlCounts): void {
  let nul = 0;
  let control = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b < 0x20 || b === 0x7f) {
      if (b === 0) nul++;
      else if (b !== 0x09 && b !== 0x0a && b !== 0x0d) control++;
    }
  }
  counts.bytes += n;
  counts.nul += nul;
  counts.control += control;
}

/**
 * Refuse a binary file: any NUL byte, or more than 10 % control characters among the bytes counted.
 * @param counts the counts so far
 * @param source what the bytes are, named in the error
 * @param whole whether the counts cover the whole text (else the message says "in its first … bytes")
 * @throws DataError when the bytes look binary
 */
export function checkNotBinary(counts: ControlCounts, source: string, whole: boolean): void {
  const { bytes, nul, control } = counts;
  if (nul > 0 || control > CONTROL_FRACTION * bytes) {
    const what = nul > 0 ? `${nul} NUL bytes` : `${((100 * control) / bytes).toFixed(0)}% control characters`;
    const where = whole ? "" : ` in its first ${bytes} bytes`;
    throw new DataError(`${source} looks like a binary file (${what}${where}); expected plain UTF-8 text; pass a text file such as a .txt`);
  }
}

/**
 * The error for a valid text too long for one string.
 * @param source what the text is
 * @param bytes its size in bytes
 * @returns the DataError
 */
export function tooLongForString(source: string, bytes: number): DataError {
  return new DataError(
    `${source} (${bytes} bytes) is too long to hold as one string (a JavaScript string holds at most ${MAX_STRING_LENGTH} UTF-16 units); ` +
      `read it as token ids instead: readCorpusFile(path) in Node gives { ids, symbols }, which train takes as its text`,
  );
}

/**
 * Split ids into training and validation parts, the classic char-rnn way: the first
 * (1 − f) of the text trains, the last f validates. The parts are views (no copy).
 * @param ids the whole text's ids
 * @param valFraction f in [0, 0.5]; 0 means no validation part
 * @returns `train` = ids[0, n − m), `val` = ids[n − m, n) with m = round(n·f)
 * @throws ConfigError when f is outside [0, 0.5]; DataError when f > 0 and either part would have fewer than 2 characters
 */
export function splitText(ids: TokenIds, valFraction: number): { train: TokenIds; val: TokenIds } {
  if (!(valFraction >= 0 && valFraction <= MAX_VAL_FRACTION)) {
    throw new ConfigError(
      `expected a validation fraction in [0, ${MAX_VAL_FRACTION}]; received ${valFraction}; use e.g. 0.1, or 0 for no validation`,
    );
  }
  const n = ids.length;
  const m = Math.round(n * valFraction);
  if (valFraction > 0 && (m < 2 || n - m < 2)) {
    throw new DataError(
      `a text of ${n} characters split with validation fraction ${valFraction} leaves ${n - m} for training and ${m} for validation; ` +
        `expected at least 2 in each part; use a longer text or a validation fraction of 0`,
    );
  }
  return { train: ids.subarray(0, n - m), val: ids.subarray(n - m) };
}

/**
 * Throw the Utf8Decoder's error for the first malformed sequence of `bytes`; return when there is none.
 * @throws DataError naming the offset of the first bad byte
 */
function throwFirstUtf8Error(bytes: Uint8Array, source: string): void {
  const decoder = new Utf8Decoder(source);
  const scratch = new Int32Array(SCRATCH_CODE_POINTS);
  decoder.push(bytes);
  while (decoder.read(scratch) > 0);
  decoder.end();
}
