import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataError } from "../errors.ts";
import { readTextFile } from "./node-files.ts";

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
