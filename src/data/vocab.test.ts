import { describe, expect, it } from "vitest";
import { DataError } from "../errors.ts";
import { buildVocab, decode, encode, unknownChars, vocabFromSymbols } from "./vocab.ts";

describe("buildVocab", () => {
  it("takes distinct code points sorted by code point", () => {
    const v = buildVocab("日本語😀a本b a");
    expect(v.symbols).toEqual([" ", "a", "b", "日", "本", "語", "😀"]);
    expect(v.index.get("😀".codePointAt(0) as number)).toBe(6);
    expect(buildVocab("ba ab").symbols).toEqual(buildVocab("a b").symbols);
  });

  it("rejects an empty text and lone surrogates", () => {
    expect(() => buildVocab("")).toThrowError(DataError);
    expect(() => buildVocab("ab\ud83d")).toThrowError(/lone UTF-16 surrogate U\+D83D at index 2/);
  });
});

describe("encode / decode", () => {
  it("round-trips emoji and Japanese, one id per code point", () => {
    const text = "日本語😀a";
    const v = buildVocab(text);
    const ids = encode(v, text);
    expect(Array.from(ids)).toEqual([1, 2, 3, 4, 0]); // sorted by code point: a=0 日=1 本=2 語=3 😀=4
    expect(ids.length).toBe(5); // text.length is 6 UTF-16 units
    expect(decode(v, ids)).toBe(text);
  });

  it("holds the ids in the narrowest array: Uint8 up to 256 symbols, Uint16 up to 65,536, else Int32", () => {
    const symbols = (n: number): string[] => Array.from({ length: n }, (_, i) => String.fromCodePoint(0x10000 + i)); // no surrogates
    for (const [V, type] of [[2, Uint8Array], [256, Uint8Array], [257, Uint16Array], [65_536, Uint16Array], [65_537, Int32Array]] as const) {
      const v = vocabFromSymbols(symbols(V));
      const text = v.symbols[V - 1]! + v.symbols[0]!; // the largest id and the smallest
      const ids = encode(v, text);
      expect(ids, `V = ${V}`).toBeInstanceOf(type);
      expect(Array.from(ids)).toEqual([V - 1, 0]);
      expect(decode(v, ids)).toBe(text);
    }
  });

  it("round-trips a long text across decode blocks", () => {
    const text = "ab😀\n".repeat(3000);
    const v = buildVocab(text);
    const ids = encode(v, text);
    expect(ids.length).toBe(12000);
    expect(decode(v, ids)).toBe(text);
  });

  it("lists unknown characters JSON-escaped with counts, most frequent first", () => {
    const v = buildVocab("abc");
    expect(() => encode(v, "a\u0007béé")).toThrowError(
      '3 characters are not in the model\'s vocabulary: "é" ×2, "\\u0007" ×1; the first at character index 1 (use --skip-unknown to drop them)',
    );
    expect(() => encode(v, "a😀")).toThrowError(/^1 character is not in the model's vocabulary: "😀" ×1; the first at character index 1 /);
    expect(() => encode(buildVocab("a😀b"), "a😀b€")).toThrowError(/the first at character index 3 /); // code points, not UTF-16 units
    expect(() => encode(v, "x")).toThrowError(DataError);
  });

  it("shortens a long list of unknown characters", () => {
    const v = buildVocab("a");
    const many = Array.from({ length: 30 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
    expect(() => encode(v, many)).toThrowError(/… and 10 more distinct/);
  });

  it("drops unknown characters with skipUnknown", () => {
    const v = buildVocab("ab");
    expect(Array.from(encode(v, "aéb😀a", { skipUnknown: true }))).toEqual([0, 1, 0]);
    expect(encode(v, "", { skipUnknown: true }).length).toBe(0);
  });

  it("rejects ids outside [0, V) when decoding", () => {
    const v = buildVocab("ab");
    expect(() => decode(v, [0, 2])).toThrowError(/id 2 at position 1: expected an integer in \[0, 2\)/);
    expect(() => decode(v, [-1])).toThrowError(DataError);
  });

  it("encodes 1 MB of text in well under a second", () => {
    const text = "First Citizen:\nBefore we proceed any further, hear me speak.\n".repeat(18_000);
    const v = buildVocab(text);
    const t0 = performance.now();
    const ids = encode(v, text);
    const ms = performance.now() - t0;
    expect(ids.length).toBe(text.length);
    expect(ms).toBeLessThan(1000);
  });
});

describe("unknownChars", () => {
  it("counts unknown characters in order of first appearance", () => {
    const v = buildVocab("abc");
    expect([...unknownChars(v, "x😀aéx")]).toEqual([
      ["x", 2],
      ["😀", 1],
      ["é", 1],
    ]);
    expect(unknownChars(v, "cab").size).toBe(0);
  });
});

describe("vocabFromSymbols", () => {
  it("keeps the given order", () => {
    const v = vocabFromSymbols(["z", "😀", "a"]);
    expect(Array.from(encode(v, "a😀z"))).toEqual([2, 1, 0]);
  });

  it("rejects empty lists, duplicates, multi-character and non-string symbols", () => {
    expect(() => vocabFromSymbols([])).toThrowError(/at least one symbol/);
    expect(() => vocabFromSymbols(["a", "b", "a"])).toThrowError(/symbol 2: expected distinct symbols; received "a"/);
    expect(() => vocabFromSymbols(["ab"])).toThrowError(/symbol 0: expected exactly one Unicode code point; received "ab" \(2 code points\)/);
    expect(() => vocabFromSymbols([""])).toThrowError(/exactly one Unicode code point/);
    expect(() => vocabFromSymbols(["\ud800"])).toThrowError(/lone surrogate U\+D800/);
    expect(() => vocabFromSymbols([1 as unknown as string])).toThrowError(DataError);
  });
});
