import { describe, expect, it } from "vitest";
import { DataError } from "../errors.ts";
import { checkCorpus, encodeCorpus, recodeCorpus, type ByteSource, type Corpus } from "./corpus.ts";
import { decodeText } from "./text.ts";
import { buildVocab, encode, vocabFromSymbols } from "./vocab.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const BOM = [0xef, 0xbb, 0xbf];

/** The bytes in chunks of `size`, each chunk a copy in one reused buffer (as a file reader gives them). */
function source(bytes: Uint8Array, size: number, name = "c.txt"): ByteSource {
  return {
    name,
    size: bytes.length,
    *chunks() {
      const buffer = new Uint8Array(size);
      for (let i = 0; i < bytes.length; i += size) {
        const part = bytes.subarray(i, i + size);
        buffer.set(part);
        yield buffer.subarray(0, part.length);
        buffer.fill(0xff); // a reader that reused the buffer before this one was done with it would see garbage
      }
    },
  };
}

/** What the in-memory path gives: decodeText, buildVocab, encode. */
function inMemory(bytes: Uint8Array): Corpus {
  const text = decodeText(bytes, "c.txt");
  const vocab = buildVocab(text);
  return { ids: encode(vocab, text), symbols: vocab.symbols };
}

const TEXTS: Record<string, string> = {
  ascii: "First Citizen:\nBefore we proceed any further, hear me speak.\n",
  japanese: "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
  emoji: "a😀b👍🏽c🎉\n😀😀",
  // more than 256 distinct code points: Uint16Array ids
  wide: Array.from({ length: 400 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 37) % 300), 0x20 + (i % 90))).join(""),
};

describe("encodeCorpus", () => {
  it("gives the ids and vocabulary of decodeText + buildVocab + encode, for every chunk size", () => {
    for (const [name, text] of Object.entries(TEXTS)) {
      for (const bytes of [utf8(text), new Uint8Array([...BOM, ...utf8(text)])]) {
        const want = inMemory(bytes);
        for (const size of [1, 2, 3, 4, 5, 7, 64, bytes.length, bytes.length + 10]) {
          const got = encodeCorpus(source(bytes, size));
          expect(got.symbols, `${name}, chunks of ${size}`).toEqual(want.symbols);
          expect(got.ids.constructor, name).toBe(want.ids.constructor);
          expect(Array.from(got.ids), `${name}, chunks of ${size}`).toEqual(Array.from(want.ids));
        }
      }
    }
    expect(encodeCorpus(source(utf8(TEXTS.wide as string), 16)).ids).toBeInstanceOf(Uint16Array);
    expect(encodeCorpus(source(utf8(TEXTS.ascii as string), 16)).ids).toBeInstanceOf(Uint8Array);
  });

  it("encodes with a given vocabulary in one pass, the same ids as encode", () => {
    const vocab = buildVocab(`${TEXTS.japanese}${TEXTS.ascii}xyz`);
    const text = `${TEXTS.ascii}${TEXTS.japanese}`;
    const want = encode(vocab, text);
    for (const size of [1, 3, 8, 1000]) {
      const passes: number[] = [];
      const got = encodeCorpus(source(utf8(text), size), { symbols: vocab.symbols, onProgress: (done, total) => passes.push(done / total) });
      expect(Array.from(got.ids)).toEqual(Array.from(want));
      expect(got.symbols).toEqual(vocab.symbols);
      expect(passes.at(-1)).toBe(1); // one pass: its end is the end
    }
  });

  it("reports progress over both passes, ending at the total", () => {
    const bytes = utf8(TEXTS.japanese as string);
    const seen: [number, number][] = [];
    encodeCorpus(source(bytes, 10), { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.every(([, total]) => total === 2 * bytes.length)).toBe(true);
    expect(seen.map(([done]) => done)).toEqual([...seen.map(([done]) => done)].sort((a, b) => a - b));
    expect(seen.at(-1)?.[0]).toBe(2 * bytes.length);
    expect(seen.some(([done]) => done === bytes.length)).toBe(true); // the end of pass 1
  });

  it("lists characters outside a given vocabulary with their counts and the first one's position, or drops them", () => {
    const vocab = buildVocab("abc");
    const bytes = utf8("ab€€c😀a");
    for (const size of [1, 2, 100]) {
      expect(() => encodeCorpus(source(bytes, size), { symbols: vocab.symbols })).toThrowError(
        /^c\.txt: 3 characters are not in the model's vocabulary: "€" ×2, "😀" ×1; the first at character index 2 \(use --skip-unknown to drop them\)$/,
      );
      const kept = encodeCorpus(source(bytes, size), { symbols: vocab.symbols, skipUnknown: true });
      expect(Array.from(kept.ids)).toEqual(Array.from(encode(vocab, "abca")));
    }
  });

  it("refuses what decodeText refuses, with the same messages", () => {
    const cases: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["only a BOM", new Uint8Array(BOM)],
      ["UTF-16", new Uint8Array([0xff, 0xfe, 0x61, 0x00])],
      ["UTF-16 BE", new Uint8Array([0xfe, 0xff, 0x00, 0x61])],
      ["NUL", new Uint8Array([...utf8("abc"), 0, ...utf8("def")])],
      ["PNG", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])],
      ["control characters", utf8("ab\x01\x02\x03\x04cdefgh")],
      ["Latin-1", new Uint8Array([...utf8("abc"), 0xe9, ...utf8("def")])],
      ["cut at the end", new Uint8Array([...utf8("abcd"), 0xf0, 0x9f, 0x98])],
    ];
    for (const [name, bytes] of cases) {
      let want = "";
      try {
        decodeText(bytes, "c.txt");
      } catch (e: unknown) {
        want = (e as Error).message;
      }
      expect(want, name).not.toBe("");
      // read in small chunks, a binary file is called binary as soon as it shows, "in its first N bytes"
      const message = (run: () => unknown): string => {
        try {
          run();
        } catch (e: unknown) {
          expect(e).toBeInstanceOf(DataError);
          return (e as Error).message.replace(/ in its first \d+ bytes/, "");
        }
        return "(no error)";
      };
      for (const size of [1, 2, 3, 1000]) {
        expect(message(() => encodeCorpus(source(bytes, size))), `${name}, chunks of ${size}`).toBe(want);
        if (bytes.length > 0 && name !== "only a BOM") {
          const symbols = buildVocab("abcdefgh").symbols;
          expect(message(() => encodeCorpus(source(bytes, size), { symbols })), `${name}, one pass`).toBe(want);
        }
      }
    }
  });

  it("calls a file binary from a NUL far into it, naming how far it read", () => {
    const bytes = new Uint8Array([...utf8("text ".repeat(20_000)), 0, ...utf8("more".repeat(5000))]);
    // chunks of 4096: the NUL at 100,000 is in the chunk that ends at 25 · 4096
    expect(() => encodeCorpus(source(bytes, 4096))).toThrowError(/^c\.txt looks like a binary file \(1 NUL bytes in its first 102400 bytes\)/);
    expect(() => encodeCorpus(source(bytes, 4096), { symbols: [..."tex mor\0"] })).toThrowError(/1 NUL bytes in its first 102400 bytes/);
    expect(() => encodeCorpus(source(bytes, 1 << 20))).toThrowError(/^c\.txt looks like a binary file \(1 NUL bytes\);/);
    // a bad byte after the first chunks: binary if the bytes so far say so
    const png = new Uint8Array([...utf8("text ".repeat(20_000)), ...Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? 0x89 : 0))]);
    expect(() => encodeCorpus(source(png, 4096))).toThrowError(/^c\.txt looks like a binary file \(1600 NUL bytes in its first 102400 bytes\)/);
  });

  it("names the true offset of a bad byte in the first chunk, across a chunk boundary and near the end", () => {
    const good = utf8(`${"ab".repeat(100)}${"日本語のテキスト😀 and ASCII. ".repeat(40)}`);
    const size = 64;
    /** The character boundary at or before `offset`: where a bad byte can be put in. */
    const boundary = (offset: number): number => {
      let b = offset;
      while (((good[b] as number) & 0xc0) === 0x80) b--;
      return b;
    };
    const cases: [number, number[]][] = [
      [boundary(5), [0xff]], // in the first chunk
      [size - 1, [0xe6, 0x41]], // a lead byte as a chunk's last byte, the byte that fails to continue it in the next chunk
      [3 * size - 2, [0xf0, 0x9f, 0x41]], // a 4-byte lead two bytes before a boundary
      [boundary(good.length - 1), [0x80]], // near the end
    ];
    for (const [offset, bad] of cases) {
      const bytes = new Uint8Array([...good.subarray(0, offset), ...bad, ...good.subarray(offset)]);
      expect(boundary(offset)).toBe(offset);
      expect(() => encodeCorpus(source(bytes, size)), `bad byte at ${offset}`).toThrowError(
        new RegExp(`^c\\.txt is not UTF-8 text \\(first bad byte at offset ${offset}: `),
      );
    }
    const emojiEnd = utf8("ab😀").subarray(0, 5);
    expect(() => encodeCorpus(source(emojiEnd, 2))).toThrowError(/first bad byte at offset 2: 0xF0 starts a 4-byte character, but the text ends after 3 of its bytes/);
  });

  it("notices a text that changes between its two passes", () => {
    let pass = 0;
    const changing: ByteSource = {
      name: "log.txt",
      size: 6,
      *chunks() {
        yield utf8(pass++ === 0 ? "abcabc" : "abcxbc");
      },
    };
    expect(() => encodeCorpus(changing)).toThrowError(/^log\.txt changed while it was being read/);
  });
});

describe("checkCorpus and recodeCorpus", () => {
  const corpus: Corpus = { ids: Uint8Array.from([0, 1, 2, 1]), symbols: ["a", "b", "c"] };

  it("checks the ids' array type and range and the symbols", () => {
    expect(checkCorpus(corpus, "text").symbols).toEqual(["a", "b", "c"]);
    expect(() => checkCorpus({ ids: Uint8Array.from([0, 3]), symbols: ["a", "b", "c"] }, "text")).toThrowError(
      /^text\.ids\[1\] is 3; expected an id in \[0, 3\) for its 3 symbols$/,
    );
    expect(() => checkCorpus({ ids: Int32Array.from([-1]), symbols: ["a"] }, "text")).toThrowError(/text\.ids\[0\] is -1/);
    const notIds = { ids: [0, 1] as unknown as Uint8Array, symbols: ["a", "b"] };
    expect(() => checkCorpus(notIds, "text")).toThrowError(/^text\.ids: expected token ids in a Uint8Array, Uint16Array or Int32Array; received Array$/);
    expect(() => checkCorpus({ ids: new Uint8Array(0), symbols: ["a"] }, "text")).toThrowError(/^text\.ids is empty/);
    expect(() => checkCorpus({ ids: new Uint8Array(1), symbols: ["a", "a"] }, "text")).toThrowError(DataError);
  });

  it("maps ids onto another vocabulary, or keeps the array when it is the same list", () => {
    expect(recodeCorpus(corpus, vocabFromSymbols(["a", "b", "c"]))).toBe(corpus.ids);
    expect(Array.from(recodeCorpus(corpus, vocabFromSymbols(["c", "x", "b", "a"])))).toEqual([3, 2, 0, 2]);
    expect(() => recodeCorpus(corpus, vocabFromSymbols(["a", "c"]))).toThrowError(
      /^2 characters are not in the model's vocabulary: "b" ×2; the first at character index 1 /,
    );
  });
});
