/**
 * The character vocabulary of a char-RNN: V symbols, each one Unicode code point
 * (not a UTF-16 unit, so "😀" is one symbol and "日本語" three), with ids 0..V−1.
 * The symbol list is what a checkpoint stores as its `vocab` metadata (docs/architecture.md, Checkpoints).
 * Pure functions on strings: these run unchanged in the browser.
 */
import { DataError } from "../errors.ts";

/** A vocabulary: id i ↔ `symbols[i]`. Plain data; build it with `buildVocab` or `vocabFromSymbols`. */
export interface Vocab {
  /** The V symbols, one Unicode code point each, distinct; id i is `symbols[i]`. */
  readonly symbols: readonly string[];
  /** Code point → id, the inverse of `symbols`. */
  readonly index: ReadonlyMap<number, number>;
}

/**
 * A text's token ids in the narrowest array that holds ids below V: Uint8Array for V ≤ 256,
 * Uint16Array for V ≤ 65,536, else Int32Array. A corpus is held as ids for a whole run, so this
 * is a quarter (half) of the memory of Int32 ids for the usual character sets.
 */
export type TokenIds = Uint8Array | Uint16Array | Int32Array;

/**
 * An array for n ids below V, the narrowest that holds them (see TokenIds).
 * @param V vocabulary size
 * @param n number of ids
 * @returns a zeroed array
 */
export function tokenIdArray(V: number, n: number): TokenIds {
  return V <= 2 ** 8 ? new Uint8Array(n) : V <= 2 ** 16 ? new Uint16Array(n) : new Int32Array(n);
}

/** Options of `encode`. */
export interface EncodeOptions {
  /** Drop characters that are not in the vocabulary instead of throwing. Default false. */
  readonly skipUnknown?: boolean;
}

/** Distinct unknown characters listed in an error message before "… and N more". */
const MAX_LISTED = 20;
/** Ids turned into a string at a time by `decode` (well below engines' argument-count limits). */
const DECODE_BLOCK = 4096;

/**
 * Build the vocabulary of a text: its distinct code points, sorted by code point, so the
 * same text always gives the same ids.
 * @param text the training text; well-formed Unicode (no lone UTF-16 surrogates)
 * @returns the vocabulary
 * @throws DataError when the text is empty or holds a lone surrogate
 */
export function buildVocab(text: string): Vocab {
  if (text.length === 0) {
    throw new DataError("expected a text with at least one character to build a vocabulary from; received an empty text");
  }
  // One flag per code point (1.1 MB) gives the sorted order for free and beats a Set on a long text.
  const seen = new Uint8Array(0x110000);
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.codePointAt(i) as number;
    if (c >= 0xd800 && c <= 0xdfff) throw loneSurrogate(c, i);
    seen[c] = 1;
    i += c > 0xffff ? 2 : 1;
  }
  const symbols: string[] = [];
  for (let c = 0; c < seen.length; c++) if (seen[c] === 1) symbols.push(String.fromCodePoint(c));
  return makeVocab(symbols);
}

/**
 * Rebuild a vocabulary from its symbol list (a checkpoint's `vocab` metadata), keeping the order.
 * @param symbols the V symbols; non-empty, distinct, each exactly one Unicode scalar value
 * @returns the vocabulary, id i ↔ `symbols[i]`
 * @throws DataError naming the first bad symbol
 */
export function vocabFromSymbols(symbols: readonly string[]): Vocab {
  if (symbols.length === 0) {
    throw new DataError("expected a vocabulary of at least one symbol; received an empty list (is the checkpoint's vocab metadata missing?)");
  }
  const seen = new Set<number>();
  for (let i = 0; i < symbols.length; i++) {
    const s: unknown = symbols[i];
    if (typeof s !== "string") {
      throw new DataError(`vocabulary symbol ${i}: expected a string of one character; received ${typeof s}`);
    }
    const c = s.codePointAt(0);
    if (c === undefined || s.length !== (c > 0xffff ? 2 : 1)) {
      throw new DataError(
        `vocabulary symbol ${i}: expected exactly one Unicode code point; received ${JSON.stringify(s)} (${[...s].length} code points)`,
      );
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      throw new DataError(`vocabulary symbol ${i}: expected a Unicode character; received the lone surrogate ${hex(c)}`);
    }
    if (seen.has(c)) {
      throw new DataError(`vocabulary symbol ${i}: expected distinct symbols; received ${JSON.stringify(s)} a second time`);
    }
    seen.add(c);
  }
  return makeVocab([...symbols]);
}

/**
 * Map a text to ids, one per code point.
 * @param vocab the vocabulary
 * @param text the text to encode
 * @param options `skipUnknown` drops characters outside the vocabulary
 * @returns the ids, one per (kept) code point, in the narrowest array that holds them (TokenIds)
 * @throws DataError listing the unknown characters and their counts, unless `skipUnknown`
 */
export function encode(vocab: Vocab, text: string, options: EncodeOptions = {}): TokenIds {
  const index = vocab.index;
  const n = text.length;
  const out = tokenIdArray(vocab.symbols.length, n); // code points ≤ UTF-16 units
  let k = 0;
  let unknown = 0;
  let first = -1; // code point index of the first unknown character
  for (let i = 0; i < n; ) {
    const c = text.codePointAt(i) as number;
    const id = index.get(c);
    if (id === undefined) {
      if (unknown++ === 0) first = k;
    } else out[k++] = id;
    i += c > 0xffff ? 2 : 1;
  }
  if (unknown > 0 && options.skipUnknown !== true) {
    throw new DataError(unknownCharsMessage(unknownChars(vocab, text), unknown, first));
  }
  return k === n ? out : out.slice(0, k);
}

/**
 * Map ids back to text.
 * @param vocab the vocabulary
 * @param ids ids in [0, V)
 * @returns the text
 * @throws DataError on an id outside [0, V)
 */
export function decode(vocab: Vocab, ids: ArrayLike<number>): string {
  const symbols = vocab.symbols;
  const V = symbols.length;
  // String.fromCodePoint on blocks of 4096 is ~3× faster than joining one string per id.
  const parts: string[] = [];
  const block: number[] = [];
  for (let i = 0; i < ids.length; i += DECODE_BLOCK) {
    const m = Math.min(DECODE_BLOCK, ids.length - i);
    block.length = m;
    for (let k = 0; k < m; k++) {
      const id = ids[i + k] as number;
      if (!(id >= 0 && id < V && Number.isInteger(id))) {
        throw new DataError(`id ${id} at position ${i + k}: expected an integer in [0, ${V}) for a vocabulary of V = ${V} symbols`);
      }
      block[k] = (symbols[id] as string).codePointAt(0) as number;
    }
    parts.push(String.fromCodePoint(...block));
  }
  return parts.join("");
}

/**
 * The characters of a text that the vocabulary does not hold.
 * @param vocab the vocabulary
 * @param text the text to check
 * @returns unknown character → count, in order of first appearance (empty when every character is known)
 */
export function unknownChars(vocab: Vocab, text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const index = vocab.index;
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.codePointAt(i) as number;
    const w = c > 0xffff ? 2 : 1;
    if (!index.has(c)) {
      const ch = text.slice(i, i + w);
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    i += w;
  }
  return counts;
}

function makeVocab(symbols: string[]): Vocab {
  const index = new Map<number, number>();
  for (let i = 0; i < symbols.length; i++) index.set((symbols[i] as string).codePointAt(0) as number, i);
  return { symbols, index };
}

/**
 * The message for characters outside a vocabulary, e.g.
 * `3 characters are not in the model's vocabulary: "é" ×2, "\u0007" ×1; the first at character index 17 (use --skip-unknown to drop them)`.
 * @param counts unknown character → count
 * @param total their sum
 * @param first the position (code point index) of the first one in the text
 * @returns the message
 */
export function unknownCharsMessage(counts: ReadonlyMap<string, number>, total: number, first: number): string {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const listed = sorted.slice(0, MAX_LISTED).map(([ch, count]) => `${JSON.stringify(ch)} ×${count}`);
  if (sorted.length > MAX_LISTED) listed.push(`… and ${sorted.length - MAX_LISTED} more distinct`);
  const what = total === 1 ? "1 character is" : `${total} characters are`;
  return `${what} not in the model's vocabulary: ${listed.join(", ")}; the first at character index ${first} (use --skip-unknown to drop them)`;
}

function loneSurrogate(c: number, i: number): DataError {
  return new DataError(
    `expected well-formed Unicode text; received a lone UTF-16 surrogate ${hex(c)} at index ${i} (was the text cut in the middle of an emoji?)`,
  );
}

function hex(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
}
