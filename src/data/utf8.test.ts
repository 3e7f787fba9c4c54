import { describe, expect, it } from "vitest";
import { DataError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { Utf8Decoder } from "./utf8.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const codePoints = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0) as number);

/** Decode `bytes` cut into the given chunks, reading at most `outSize` code points at a time. */
function decodeChunks(chunks: readonly Uint8Array[], outSize = 7): number[] {
  const decoder = new Utf8Decoder("t.txt");
  const out = new Int32Array(outSize);
  const got: number[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let m = decoder.read(out); m > 0; m = decoder.read(out)) got.push(...out.subarray(0, m));
  }
  decoder.end();
  return got;
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Uint8Array, ...at: number[]): Uint8Array[] {
  const edges = [0, ...at, bytes.length];
  return edges.slice(1).map((end, i) => bytes.subarray(edges[i], end));
}

/** `bytes` in chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** The offset the decoder names for malformed `bytes` decoded in the given chunks. */
function badOffset(chunks: readonly Uint8Array[]): number {
  try {
    decodeChunks(chunks);
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(DataError);
    const m = /^t\.txt is not UTF-8 text \(first bad byte at offset (\d+): /.exec((e as Error).message);
    expect(m, (e as Error).message).not.toBeNull();
    return Number(m?.[1]);
  }
  throw new Error("expected a DataError");
}

const MIXED = "a日本語😀é\n\tZ€𝄞ｱ中文 한국어 — 👍🏽!";

describe("Utf8Decoder", () => {
  it("gives the code points TextDecoder gives, for every cut of the text into two and three chunks", () => {
    const bytes = utf8(MIXED);
    const want = codePoints(MIXED);
    for (let i = 0; i <= bytes.length; i++) {
      expect(decodeChunks(cut(bytes, i))).toEqual(want);
      for (let j = i; j <= bytes.length; j += 3) expect(decodeChunks(cut(bytes, i, j), 1 + (j % 5))).toEqual(want);
    }
  });

  it("decodes one byte at a time and into a one-code-point buffer", () => {
    const text = `${MIXED}${"xyz".repeat(5)}😀`;
    expect(decodeChunks(chunked(utf8(text), 1), 1)).toEqual(codePoints(text));
    expect(decodeChunks(chunked(utf8(text), 2), 3)).toEqual(codePoints(text));
  });

  it("drops a byte-order mark at offset 0 only, however it is cut", () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const bytes = new Uint8Array([...bom, ...utf8("hé"), ...bom, ...utf8("x")]);
    for (let i = 0; i <= bytes.length; i++) {
      expect(decodeChunks(cut(bytes, i))).toEqual([...codePoints("hé"), 0xfeff, ...codePoints("x")]);
    }
    expect(decodeChunks([bom])).toEqual([]);
    expect(decodeChunks([utf8("a"), bom])).toEqual([0x61, 0xfeff]);
  });

  it("names the true offset of the first bad byte, wherever the chunks are cut", () => {
    const cases: [string, Uint8Array, number, RegExp][] = [
      ["Latin-1 é", new Uint8Array([...utf8("abc"), 0xe9, ...utf8("def")]), 3, /0xE9 starts a 3-byte character, but byte 0x64 at offset 4 does not continue it/],
      ["overlong NUL", new Uint8Array([...utf8("日本"), 0xc0, 0x80]), 6, /0xC0 only starts overlong encodings/],
      ["overlong 3-byte", new Uint8Array([...utf8("ab"), 0xe0, 0x80, 0x80]), 2, /0xE0 0x80 begins an overlong encoding/],
      ["encoded surrogate", new Uint8Array([...utf8("ab"), 0xed, 0xa0, 0x80]), 2, /0xED 0xA0 begins an encoded UTF-16 surrogate/],
      ["past U+10FFFF", new Uint8Array([...utf8("ab"), 0xf4, 0x90, 0x80, 0x80]), 2, /0xF4 0x90 begins a code point past U\+10FFFF/],
      ["emoji cut at the end", new Uint8Array([...utf8("abcd"), 0xf0, 0x9f, 0x98]), 4, /0xF0 starts a 4-byte character, but the text ends after 3 of its bytes/],
      ["stray continuation byte", new Uint8Array([...utf8("a😀"), 0x80]), 5, /0x80 is a continuation byte without a first byte/],
      ["never in UTF-8", new Uint8Array([...utf8("日本語"), 0xff]), 9, /0xFF never occurs in UTF-8/],
      ["a lead byte then another", new Uint8Array([...utf8("x"), 0xe6, 0x97, 0xe6, 0x97, 0xa5]), 1, /0xE6 starts a 3-byte character, but byte 0xE6 at offset 3/],
    ];
    for (const [name, bytes, offset, why] of cases) {
      for (let i = 0; i <= bytes.length; i++) {
        expect(badOffset(cut(bytes, i)), `${name}, cut at ${i}`).toBe(offset);
        expect(badOffset(chunked(bytes, 1)), `${name}, byte by byte`).toBe(offset);
      }
      expect(() => decodeChunks([bytes])).toThrowError(why);
    }
  });

  it("counts offsets across many chunks", () => {
    const good = utf8("日本語テキスト😀".repeat(50));
    const bytes = new Uint8Array([...good, 0xff, ...utf8("rest")]);
    for (const size of [1, 2, 3, 5, 64, 100]) expect(badOffset(chunked(bytes, size))).toBe(good.length);
  });

  it("accepts and refuses exactly what TextDecoder with fatal: true does (valid text with random damage)", () => {
    const rng = new Rng(7);
    // code points at the edges of each encoded length and of the surrogates
    const chars = [0x00, 0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfeff, 0xffff, 0x10000, 0x1f600, 0x10ffff];
    const bytesPool = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    const reference = new TextDecoder("utf-8", { fatal: true });
    let valid = 0;
    for (let trial = 0; trial < 4000; trial++) {
      const text = String.fromCodePoint(...Array.from({ length: 1 + rng.int(5) }, () => chars[rng.int(chars.length)] as number));
      const bytes = [...utf8(text)];
      const damage = rng.int(4); // 0: none, 1: a byte replaced, 2: a byte dropped, 3: a byte inserted
      const at = rng.int(bytes.length);
      if (damage === 1) bytes[at] = bytesPool[rng.int(bytesPool.length)] as number;
      if (damage === 2) bytes.splice(at, 1);
      if (damage === 3) bytes.splice(at, 0, bytesPool[rng.int(bytesPool.length)] as number);
      const b = Uint8Array.from(bytes);
      let want: number[] | undefined;
      try {
        want = codePoints(reference.decode(b));
      } catch {
        want = undefined;
      }
      const split = rng.int(b.length + 1);
      const shown = Array.from(b, (x) => x.toString(16)).join(" ");
      if (want === undefined) expect(() => decodeChunks(cut(b, split)), shown).toThrowError(DataError);
      else {
        valid++;
        expect(decodeChunks(cut(b, split)), shown).toEqual(want);
      }
    }
    expect(valid).toBeGreaterThan(1000); // both ways are well tested
    expect(valid).toBeLessThan(3500);
  });

  it("tells where it is in the stream", () => {
    const decoder = new Utf8Decoder("t.txt");
    const out = new Int32Array(2);
    decoder.push(utf8("abcde"));
    expect(decoder.read(out)).toBe(2);
    expect(decoder.bytesRead).toBe(2);
    while (decoder.read(out) > 0);
    decoder.push(utf8("é"));
    expect(decoder.read(out)).toBe(1);
    expect(decoder.bytesRead).toBe(7);
    expect(() => decoder.push(utf8("x"))).not.toThrow();
    decoder.read(new Int32Array(0)); // a full buffer reads nothing
    expect(() => decoder.push(utf8("y"))).toThrowError(/before the previous chunk was read/);
  });
});
