/**
 * A corpus as token ids: a text encoded straight from its bytes, chunk by chunk, without ever
 * holding it as one string, so that a text larger than a JavaScript string (V8: 2^29 − 24 UTF-16
 * units, about 512 MiB of ASCII) trains, and memory stays at its ids (1 byte a character for
 * V ≤ 256, 2 for V ≤ 65,536) plus buffers of bounded size.
 *
 * The same text gives the same ids as `encode(buildVocab(text), text)`: the vocabulary is its
 * distinct code points sorted by code point, a leading byte-order mark is dropped, and what
 * `decodeText` refuses (empty, UTF-16, binary, malformed UTF-8) is refused with the same messages,
 * a bad byte's offset being its offset in the whole text. Pure: bytes in, ids out (the chunks come
 * from a ByteSource; `readCorpusFile` in node-files.ts is the one that reads a file).
 */
import { concatBytes } from "../bytes.ts";
import { DataError } from "../errors.ts";
import {
  checkNotBinary, checkTextStart, controlCounts, countControlBytes, SCRATCH_CODE_POINTS, type ControlCounts,
} from "./text.ts";
import { Utf8Decoder } from "./utf8.ts";
import { tokenIdArray, unknownCharsMessage, vocabFromSymbols, type TokenIds, type Vocab } from "./vocab.ts";

/** A text as token ids and the vocabulary they index: what `train` takes as `text` when a string will not do. */
export interface Corpus {
  /** One id per code point of the text, each in [0, symbols.length). */
  readonly ids: TokenIds;
  /** The vocabulary: id i is `symbols[i]`, one code point each, distinct (a checkpoint's `vocab`). */
  readonly symbols: readonly string[];
}

/** The bytes of a text, read from the start once per pass. */
export interface ByteSource {
  /** What the bytes are (a path), named in every error. */
  readonly name: string;
  /** Their number (for progress, and as the upper bound of the code points). */
  readonly size: number;
  /** The bytes in order as consecutive chunks; a chunk may be overwritten once the next one is asked for. */
  chunks(): Iterable<Uint8Array>;
}

/** Options of `encodeCorpus`. */
export interface EncodeCorpusOptions {
  /**
   * Encode with this vocabulary (a checkpoint's), in one pass over the bytes. Default: the text's
   * own vocabulary (its distinct code points, sorted), found in a first pass, the ids written in a second.
   */
  readonly symbols?: readonly string[];
  /** With `symbols`: drop characters outside the vocabulary instead of throwing. Default false. */
  readonly skipUnknown?: boolean;
  /** Called after each chunk with the bytes processed so far and in all (passes × size), for progress bars. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Longest typed array V8 makes in Node 20 (elements): the most characters a corpus can have. */
export const MAX_CORPUS_CHARS = 2 ** 32;
/** Bytes at the start of a text that are checked (UTF-16, binary) before any is decoded. */
const SNIFF_BYTES = 1 << 16;
/** Code points of Unicode: the size of the per-code-point tables. */
const CODE_POINTS = 0x110000;
/** The control characters of the binary check other than NUL: U+0001–U+001F but \t \n \r, and U+007F. */
const CONTROLS: readonly number[] = [...Array.from({ length: 31 }, (_, i) => i + 1).filter((c) => c !== 0x09 && c !== 0x0a && c !== 0x0d), 0x7f];

/**
 * Encode a text from its bytes into token ids, chunk by chunk (see the file's header).
 * @param source the text's bytes
 * @param options a vocabulary to encode with (one pass), unknown characters, progress
 * @returns the ids and their vocabulary
 * @throws DataError when the bytes are empty, UTF-16, binary or not UTF-8 (naming the offset of
 *   the first bad byte), when characters are outside `symbols` (listing them, with the position of
 *   the first), or when the text changes between the passes
 */
export function encodeCorpus(source: ByteSource, options: EncodeCorpusOptions = {}): Corpus {
  const passes = options.symbols === undefined ? 2 : 1;
  let done = 0;
  const total = passes * source.size;
  const progress = (bytes: number): void => {
    done += bytes;
    options.onProgress?.(done, total);
  };
  if (options.symbols === undefined) {
    // pass 1: how often each code point occurs (the vocabulary, sorted for free; the control
    // characters of the binary check; the number of ids); pass 2: the ids, into an array of exactly that size
    const histogram = new Float64Array(CODE_POINTS);
    let count = 0;
    decodePass(source, progress, (cps, m) => {
      countIds(histogram, cps, 0, m);
      count += m;
    }, (c) => histogram[c] as number);
    if (count === 0) throw new DataError(`${source.name} is empty (only a byte-order mark); expected at least one character`);
    const symbols: string[] = [];
    for (let c = 0; c < CODE_POINTS; c++) if (histogram[c] !== 0) symbols.push(String.fromCodePoint(c));
    const vocab = vocabFromSymbols(symbols);
    const ids = allocateIds(vocab.symbols.length, count, source.name);
    const written = writeIds(source, vocab, ids, false, progress);
    if (written.unknown > 0 || written.count !== count) throw changedWhileRead(source.name);
    return { ids, symbols: vocab.symbols };
  }
  const vocab = vocabFromSymbols(options.symbols);
  // one pass, so the number of code points is not known: the bytes bound it. The untouched end of
  // the array is never written, so it costs address space, not memory (zeroed pages are mapped lazily)
  const ids = allocateIds(vocab.symbols.length, Math.min(source.size, MAX_CORPUS_CHARS), source.name);
  const written = writeIds(source, vocab, ids, true, progress);
  if (written.unknown > 0 && options.skipUnknown !== true) {
    const counts = new Map<string, number>();
    for (const [c, n] of written.unknownCounts) counts.set(String.fromCodePoint(c), n);
    throw new DataError(`${source.name}: ${unknownCharsMessage(counts, written.unknown, written.firstUnknown)}`);
  }
  if (written.count + written.unknown === 0) {
    throw new DataError(`${source.name} is empty (only a byte-order mark); expected at least one character`);
  }
  return { ids: ids.subarray(0, written.count), symbols: vocab.symbols };
}

/**
 * Check a corpus given by a caller: typed-array ids, a valid vocabulary, every id inside it.
 * @param corpus the ids and symbols
 * @param what how to name it in errors, e.g. "options.text"
 * @returns the vocabulary of its symbols
 * @throws DataError naming the first problem (a bad symbol, an id out of range and its position, no ids)
 */
export function checkCorpus(corpus: Corpus, what: string): Vocab {
  const ids: unknown = corpus.ids;
  if (!(ids instanceof Uint8Array || ids instanceof Uint16Array || ids instanceof Int32Array)) {
    const received = ids === null ? "null" : typeof ids === "object" ? ids.constructor.name : typeof ids;
    throw new DataError(`${what}.ids: expected token ids in a Uint8Array, Uint16Array or Int32Array; received ${received}`);
  }
  if (!Array.isArray(corpus.symbols)) {
    throw new DataError(`${what}.symbols: expected an array of the vocabulary's symbols; received ${typeof corpus.symbols}`);
  }
  const vocab = vocabFromSymbols(corpus.symbols);
  if (ids.length === 0) throw new DataError(`${what}.ids is empty; expected the ids of a text with at least a few thousand characters`);
  const V = vocab.symbols.length;
  const n = ids.length;
  // the largest and smallest ids first (a loop without exits runs faster), the position of a bad one only if there is one
  let max = 0;
  let min = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    if (id > max) max = id;
    else if (id < min) min = id;
  }
  if (max >= V || min < 0) {
    const i = ids.findIndex((id) => id >= V || id < 0);
    throw new DataError(`${what}.ids[${i}] is ${ids[i]}; expected an id in [0, ${V}) for its ${V} symbols`);
  }
  return vocab;
}

/**
 * The ids of a corpus in another vocabulary (a resumed checkpoint's), the same array when the
 * vocabularies are the same list.
 * @param corpus a checked corpus (`checkCorpus`)
 * @param vocab the vocabulary to express its ids in
 * @returns the ids in `vocab`
 * @throws DataError listing the corpus's characters that `vocab` lacks, with the position of the first
 */
export function recodeCorpus(corpus: Corpus, vocab: Vocab): TokenIds {
  const from = corpus.symbols;
  const map = new Int32Array(from.length);
  let same = from.length === vocab.symbols.length;
  for (let i = 0; i < from.length; i++) {
    map[i] = vocab.index.get((from[i] as string).codePointAt(0) as number) ?? -1;
    if (map[i] !== i) same = false;
  }
  if (same) return corpus.ids;
  const { ids } = corpus;
  const n = ids.length;
  const out = tokenIdArray(vocab.symbols.length, n);
  const unknownCounts = new Float64Array(from.length);
  let unknown = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    const id = map[ids[i] as number] as number;
    if (id >= 0) out[i] = id;
    else {
      if (unknown++ === 0) first = i;
      unknownCounts[ids[i] as number]++;
    }
  }
  if (unknown > 0) {
    const counts = new Map<string, number>();
    unknownCounts.forEach((c, i) => {
      if (c > 0) counts.set(from[i] as string, c);
    });
    throw new DataError(unknownCharsMessage(counts, unknown, first));
  }
  return out;
}

/*
 * The two inner loops, as functions of their arrays (not closures), which V8 compiles to tight
 * loops: here at least 1.3× faster than the same code in the closures that call them.
 */

/**
 * ids[k + i − from] = idOf[cps[i]] for i = from, from + 1, … until `to` or a code point without an id.
 * @returns the index i where it stopped
 */
function mapIds(ids: TokenIds, k: number, cps: Int32Array, from: number, to: number, idOf: Int32Array): number {
  const shift = k - from;
  for (let i = from; i < to; i++) {
    const id = idOf[cps[i] as number] as number;
    if (id < 0) return i;
    ids[i + shift] = id;
  }
  return to;
}

/** counts[values[i]] += 1 for i in [from, to). */
function countIds(counts: Float64Array, values: TokenIds, from: number, to: number): void {
  for (let i = from; i < to; i++) counts[values[i] as number]++;
}

/** What `writeIds` wrote and what it could not. */
interface Written {
  /** Ids written. */
  readonly count: number;
  /** Characters outside the vocabulary, by code point, and their total. */
  readonly unknownCounts: ReadonlyMap<number, number>;
  readonly unknown: number;
  /** Position (code point index) of the first of them, or −1. */
  readonly firstUnknown: number;
}

/**
 * One pass: the ids of the known characters into `ids`, the unknown ones counted.
 * @param checks whether this pass refuses binary content (the first pass over the bytes does)
 */
function writeIds(source: ByteSource, vocab: Vocab, ids: TokenIds, checks: boolean, progress: (bytes: number) => void): Written {
  const idOf = new Int32Array(CODE_POINTS).fill(-1);
  vocab.symbols.forEach((s, i) => (idOf[s.codePointAt(0) as number] = i));
  const idCounts = new Float64Array(checks ? vocab.symbols.length : 0); // for the binary check's control characters
  const cap = ids.length;
  const unknownCounts = new Map<number, number>();
  let count = 0;
  let unknown = 0;
  let firstUnknown = -1;
  const consume = (cps: Int32Array, m: number): void => {
    for (let j = 0; j < m; ) {
      const stop = Math.min(m, j + cap - count);
      const end = mapIds(ids, count, cps, j, stop, idOf);
      if (checks) countIds(idCounts, ids, count, count + end - j);
      count += end - j;
      j = end;
      if (j === m) break;
      const c = cps[j] as number;
      if ((idOf[c] as number) >= 0) throw cap === MAX_CORPUS_CHARS ? tooManyChars(source.name) : changedWhileRead(source.name); // no room
      if (unknown === 0) firstUnknown = count;
      unknown++;
      unknownCounts.set(c, (unknownCounts.get(c) ?? 0) + 1);
      j++;
    }
  };
  const occurrences = (c: number): number => {
    const id = idOf[c] as number;
    return id >= 0 ? (idCounts[id] as number) : (unknownCounts.get(c) ?? 0);
  };
  decodePass(source, progress, consume, checks ? occurrences : undefined);
  return { count, unknownCounts, unknown, firstUnknown };
}

/**
 * Decode the source's bytes once, handing the code points to `consume` in blocks of at most
 * SCRATCH_CODE_POINTS (the block is reused). With `occurrences` (how often the pass has seen a
 * code point so far), refuse what decodeText refuses, in its order: empty bytes, a UTF-16
 * byte-order mark, binary content (counted over the bytes so far: a control character is one
 * byte), malformed UTF-8.
 */
function decodePass(
  source: ByteSource, progress: (bytes: number) => void, consume: (cps: Int32Array, m: number) => void,
  occurrences?: (codePoint: number) => number,
): void {
  const name = source.name;
  const decoder = new Utf8Decoder(name);
  const scratch = new Int32Array(SCRATCH_CODE_POINTS);
  let fed = 0;
  /** The control characters among the bytes decoded so far, from the pass's counts. */
  const controlsSoFar = (count: (codePoint: number) => number): ControlCounts => {
    const counts = controlCounts();
    counts.bytes = fed;
    counts.nul = count(0);
    for (const c of CONTROLS) counts.control += count(c);
    return counts;
  };
  const feed = (chunk: Uint8Array): void => {
    const before = occurrences === undefined ? undefined : controlsSoFar(occurrences);
    fed += chunk.length;
    decoder.push(chunk);
    try {
      for (let m = decoder.read(scratch); m > 0; m = decoder.read(scratch)) consume(scratch, m);
    } catch (e: unknown) {
      // a binary file is called binary, not malformed UTF-8 (as decodeText does, which checks first)
      if (before !== undefined) {
        countControlBytes(chunk, before);
        checkNotBinary(before, name, fed >= source.size);
      }
      throw e;
    }
    if (occurrences !== undefined) checkNotBinary(controlsSoFar(occurrences), name, fed >= source.size);
    progress(chunk.length);
  };
  // the first SNIFF_BYTES (or the whole text) are checked before any of it is decoded, as decodeText
  // checks a whole text: a binary file is called binary, not malformed UTF-8, whatever the chunk size
  let head: Uint8Array[] | undefined = [];
  let headBytes = 0;
  const feedHead = (): void => {
    const first = head?.length === 1 ? (head[0] as Uint8Array) : concatBytes(head ?? []);
    head = undefined;
    if (occurrences !== undefined) {
      checkTextStart(first, name);
      const counts = controlCounts();
      countControlBytes(first, counts);
      checkNotBinary(counts, name, first.length >= source.size);
    }
    if (first.length > 0) feed(first);
  };
  for (const chunk of source.chunks()) {
    if (head === undefined) {
      feed(chunk);
      continue;
    }
    if (chunk.length === 0) continue;
    headBytes += chunk.length;
    if (head.length === 0 && headBytes >= SNIFF_BYTES) {
      head.push(chunk); // a large first chunk is the head itself, not a copy
    } else {
      head.push(chunk.slice()); // a copy: the source may overwrite its chunk
      if (headBytes < SNIFF_BYTES) continue;
    }
    feedHead();
  }
  if (head !== undefined) feedHead(); // the whole text is shorter than SNIFF_BYTES
  try {
    decoder.end();
  } catch (e: unknown) {
    if (occurrences !== undefined) checkNotBinary(controlsSoFar(occurrences), name, true);
    throw e;
  }
}

/** A zeroed id array, or a DataError that says why there is none. */
function allocateIds(V: number, n: number, name: string): TokenIds {
  if (n > MAX_CORPUS_CHARS) throw tooManyChars(name);
  try {
    return tokenIdArray(V, n);
  } catch (e: unknown) {
    if (!(e instanceof RangeError)) throw e;
    const bytes = n * (V <= 2 ** 8 ? 1 : V <= 2 ** 16 ? 2 : 4);
    throw new DataError(
      `${name}: its ${n} characters need ${bytes} bytes for their ids, which could not be allocated (${e.message}); ` +
        `use a part of the text, or a machine with more memory`,
    );
  }
}

function tooManyChars(name: string): DataError {
  return new DataError(`${name} has more than ${MAX_CORPUS_CHARS} characters, more than one array of ids can hold; use a part of it`);
}

function changedWhileRead(name: string): DataError {
  return new DataError(`${name} changed while it was being read; read it again once nothing writes to it`);
}
