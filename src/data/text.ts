/**
 * Turning raw bytes into training text, and the train/validation split.
 * Takes bytes, not paths, so it runs in the browser; `node-files.ts` reads files in Node.
 */
import { ConfigError, DataError } from "../errors.ts";
import type { TokenIds } from "./vocab.ts";

/** Largest accepted validation fraction. */
export const MAX_VAL_FRACTION = 0.5;

/** Share of control bytes (other than \t \n \r) above which a file is taken for binary. */
const CONTROL_FRACTION = 0.1;

/**
 * Decode a text file's bytes as strict UTF-8, dropping a leading byte-order mark.
 * @param bytes the file's contents
 * @param source what the bytes are (a path, "uploaded file"), named in every error
 * @returns the text
 * @throws DataError when the bytes are empty, look binary, are UTF-16 or are not valid UTF-8
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  const n = bytes.length;
  if (n === 0) throw new DataError(`${source} is empty; expected a UTF-8 text file with at least one character`);
  if (n >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new DataError(
      `${source} is UTF-16 text (it starts with a UTF-16 byte-order mark); expected UTF-8; convert it first, e.g. iconv -f UTF-16 -t UTF-8`,
    );
  }
  let nul = 0;
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b < 0x20 || b === 0x7f) {
      if (b === 0) nul++;
      else if (b !== 0x09 && b !== 0x0a && b !== 0x0d) control++;
    }
  }
  if (nul > 0 || control > CONTROL_FRACTION * n) {
    const what = nul > 0 ? `${nul} NUL bytes` : `${((100 * control) / n).toFixed(0)}% control characters`;
    throw new DataError(`${source} looks like a binary file (${what}); expected plain UTF-8 text; pass a text file such as a .txt`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); // ignoreBOM false: a leading BOM is dropped
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new DataError(
      `${source} is not UTF-8 text (first bad byte near offset ${at}); expected UTF-8; ` +
        `convert it first, e.g. iconv -f LATIN1 -t UTF-8 if it is Latin-1`,
    );
  }
  if (text.length === 0) throw new DataError(`${source} is empty (only a byte-order mark); expected at least one character`);
  return text;
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
 * The offset of the first byte of the first malformed UTF-8 sequence, or −1. Overlong forms,
 * surrogates and code points past U+10FFFF count as malformed, as in TextDecoder (which does not say where).
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80; // allowed range of the second byte
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // > U+10FFFF
    } else return i;
    if (i + len > n) return i;
    const b1 = bytes[i + 1] as number;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k < len; k++) {
      const bk = bytes[i + k] as number;
      if (bk < 0x80 || bk > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}
