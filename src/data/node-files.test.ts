import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataError } from "../errors.ts";
import { readCorpusFile, readTextFile } from "./node-files.ts";
import { buildVocab, encode } from "./vocab.ts";

const dir = mkdtempSync(join(tmpdir(), "bptt-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readTextFile", () => {
  it("reads UTF-8 text and drops a BOM", () => {
    const path = join(dir, "ok.txt");
    writeFileSync(path, new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("日本語😀a\n")]));
    expect(readTextFile(path)).toBe("日本語😀a\n");
  });

  it("names the path of a missing file or a directory", () => {
    const missing = join(dir, "nope.txt");
    expect(() => readTextFile(missing)).toThrowError(DataError);
    expect(() => readTextFile(missing)).toThrowError(`${missing} does not exist`);
    expect(() => readTextFile(dir)).toThrowError(`${dir} is a directory`);
    const file = join(dir, "plain.txt");
    writeFileSync(file, "x");
    expect(() => readTextFile(join(file, "inside.txt"))).toThrowError(`${join(file, "inside.txt")} cannot be read (ENOTDIR`);
  });

  it("passes the path to decodeText's errors", () => {
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    expect(() => readTextFile(empty)).toThrowError(`${empty} is empty`);
    const bin = join(dir, "x.bin");
    writeFileSync(bin, new Uint8Array([1, 2, 0, 3]));
    expect(() => readTextFile(bin)).toThrowError(`${bin} looks like a binary file`);
  });

  it.skipIf(process.getuid?.() === 0 || process.platform === "win32")("names the path of an unreadable file", () => {
    const path = join(dir, "secret.txt");
    writeFileSync(path, "x");
    chmodSync(path, 0o000);
    expect(() => readTextFile(path)).toThrowError(`${path} cannot be read (permission denied)`);
  });
});

/** Typed arrays of the same type and values (toEqual walks a million elements slowly). */
function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("readCorpusFile", () => {
  const corpus = join(import.meta.dirname, "..", "..", "data", "tinyshakespeare.txt");

  it("gives the ids of readTextFile + buildVocab + encode, in chunks of any size", () => {
    const text = readTextFile(corpus);
    const vocab = buildVocab(text);
    const want = encode(vocab, text);
    for (const chunkBytes of [4093, 1 << 16, 1 << 24]) {
      const got = readCorpusFile(corpus, { chunkBytes });
      expect(got.symbols).toEqual(vocab.symbols);
      expect(got.ids).toBeInstanceOf(Uint8Array);
      expect(sameIds(got.ids, want)).toBe(true);
    }
    const resumed = readCorpusFile(corpus, { symbols: vocab.symbols, chunkBytes: 1 << 16 });
    expect(sameIds(resumed.ids, want)).toBe(true);
    const path = join(dir, "mixed.txt");
    const mixed = `${"日本語のテキスト😀 and some ASCII.\n".repeat(3000)}`;
    writeFileSync(path, new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(mixed)]));
    const v = buildVocab(mixed);
    expect(sameIds(readCorpusFile(path, { chunkBytes: 1001 }).ids, encode(v, mixed))).toBe(true);
  });

  it("names the path and the true offset of a bad byte in the first chunk, across chunks and near the end", () => {
    const good = new TextEncoder().encode("a".repeat(10_000));
    const chunkBytes = 4096;
    for (const offset of [17, chunkBytes - 1, 2 * chunkBytes - 2, good.length - 1]) {
      const path = join(dir, `bad-${offset}.txt`);
      writeFileSync(path, new Uint8Array([...good.subarray(0, offset), 0xf0, 0x9f, 0x41, ...good.subarray(offset)]));
      expect(() => readCorpusFile(path, { chunkBytes })).toThrowError(
        new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not UTF-8 text \\(first bad byte at offset ${offset}: 0xF0 starts a 4-byte character, but byte 0x41 at offset ${offset + 2} does not continue it\\)`),
      );
    }
  });

  it("names the path of a missing file, a directory, an empty or binary file, or unknown characters", () => {
    const missing = join(dir, "nope.txt");
    expect(() => readCorpusFile(missing)).toThrowError(`${missing} does not exist`);
    expect(() => readCorpusFile(dir)).toThrowError(`${dir} is a directory`);
    const empty = join(dir, "empty2.txt");
    writeFileSync(empty, "");
    expect(() => readCorpusFile(empty)).toThrowError(`${empty} is empty`);
    const bin = join(dir, "y.bin");
    writeFileSync(bin, new Uint8Array([1, 2, 0, 3]));
    expect(() => readCorpusFile(bin)).toThrowError(DataError);
    expect(() => readCorpusFile(bin)).toThrowError(`${bin} looks like a binary file`);
    const other = join(dir, "other.txt");
    writeFileSync(other, "abcz€");
    expect(() => readCorpusFile(other, { symbols: ["a", "b", "c"] })).toThrowError(
      `${other}: 2 characters are not in the model's vocabulary: "z" ×1, "€" ×1; the first at character index 3`,
    );
    expect(() => readCorpusFile(corpus, { chunkBytes: 0 })).toThrowError(/chunkBytes must be an integer ≥ 1; received 0/);
  });

  it.skipIf(process.platform === "win32")("reads a pipe, which can be read only once, as a file", () => {
    const fifo = join(dir, "fifo");
    if (spawnSync("mkfifo", [fifo]).status !== 0) return; // no mkfifo here
    const writer = spawn("sh", ["-c", `cat "${corpus}" > "${fifo}"`], { stdio: "ignore" });
    const got = readCorpusFile(fifo, { chunkBytes: 1 << 16 });
    writer.kill();
    const text = readTextFile(corpus);
    expect(sameIds(got.ids, encode(buildVocab(text), text))).toBe(true);
  });
});
