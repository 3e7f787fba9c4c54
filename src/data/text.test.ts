import { describe, expect, it } from "vitest";
import { ConfigError, DataError } from "../errors.ts";
import { decodeText, splitText } from "./text.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

describe("decodeText", () => {
  it("decodes UTF-8, Japanese and emoji included", () => {
    expect(decodeText(utf8("日本語😀a\r\n\tb"), "x.txt")).toBe("日本語😀a\r\n\tb");
  });

  it("strips a leading byte-order mark", () => {
    expect(decodeText(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("héllo")]), "bom.txt")).toBe("héllo");
  });

  it("rejects empty files, naming the source", () => {
    expect(() => decodeText(new Uint8Array(0), "empty.txt")).toThrowError(/^empty\.txt is empty/);
    expect(() => decodeText(bytes(0xef, 0xbb, 0xbf), "bom.txt")).toThrowError(/^bom\.txt is empty \(only a byte-order mark\)/);
  });

  it("rejects invalid UTF-8 with the offset of the first bad byte", () => {
    const cases: [Uint8Array, number][] = [
      [new Uint8Array([...utf8("abc"), 0xe9, ...utf8("def")]), 3], // Latin-1 é
      [new Uint8Array([...utf8("日本"), 0xc0, 0x80]), 6], // overlong NUL
      [new Uint8Array([...utf8("ab"), 0xed, 0xa0, 0x80]), 2], // encoded surrogate
      [new Uint8Array([...utf8("ab"), 0xf4, 0x90, 0x80, 0x80]), 2], // past U+10FFFF
      [new Uint8Array([...utf8("abcd"), 0xf0, 0x9f, 0x98]), 4], // emoji cut at the end
      [new Uint8Array([...utf8("a"), 0x80]), 1], // stray continuation byte
    ];
    for (const [b, offset] of cases) {
      expect(() => decodeText(b, "in.txt")).toThrowError(
        new RegExp(`^in\\.txt is not UTF-8 text \\(first bad byte at offset ${offset}: `),
      );
    }
  });

  it("rejects binary files: NUL bytes or many control characters", () => {
    expect(() => decodeText(new Uint8Array([...utf8("abc"), 0, ...utf8("def")]), "a.bin")).toThrowError(
      /^a\.bin looks like a binary file \(1 NUL bytes\)/,
    );
    expect(() => decodeText(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d), "p.png")).toThrowError(
      /looks like a binary file/,
    );
    expect(() => decodeText(utf8("ab\x01\x02\x03\x04cdefgh"), "c.txt")).toThrowError(/looks like a binary file \(33% control characters\)/);
    expect(() => decodeText(utf8("a\x07"), "c.txt")).toThrowError(DataError);
    // a few control characters in a long text are fine
    expect(decodeText(utf8(`${"text ".repeat(10)}\x0c\x1b[0m`), "ok.txt")).toContain("\x1b[0m");
  });

  it("recognizes UTF-16 by its byte-order mark", () => {
    expect(() => decodeText(bytes(0xff, 0xfe, 0x61, 0x00), "u16.txt")).toThrowError(/^u16\.txt is UTF-16 text/);
    expect(() => decodeText(bytes(0xfe, 0xff, 0x00, 0x61), "u16.txt")).toThrowError(/UTF-16/);
  });
});

describe("splitText", () => {
  const ids = Int32Array.from({ length: 100 }, (_, i) => i);

  it("puts the first 1 − f in training and the last f in validation", () => {
    const { train, val } = splitText(ids, 0.1);
    expect(train.length).toBe(90);
    expect(val.length).toBe(10);
    expect(train[89]).toBe(89);
    expect(val[0]).toBe(90);
    expect(splitText(ids, 0.5).val.length).toBe(50);
    expect(splitText(ids, 0.333).val.length).toBe(33);
  });

  it("gives no validation part for f = 0", () => {
    const { train, val } = splitText(ids, 0);
    expect(train.length).toBe(100);
    expect(val.length).toBe(0);
  });

  it("rejects f outside [0, 0.5]", () => {
    for (const f of [-0.1, 0.51, 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => splitText(ids, f)).toThrowError(ConfigError);
    }
    expect(() => splitText(ids, 0.9)).toThrowError(/expected a validation fraction in \[0, 0\.5\]; received 0\.9/);
  });

  it("rejects a split that leaves fewer than 2 characters for validation", () => {
    expect(() => splitText(ids.subarray(0, 10), 0.1)).toThrowError(/leaves 9 for training and 1 for validation/);
    expect(() => splitText(ids.subarray(0, 3), 0.5)).toThrowError(DataError);
    expect(splitText(ids.subarray(0, 20), 0.1).val.length).toBe(2);
  });
});
