import { execFileSync } from "node:child_process";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CheckpointError } from "../errors.ts";
import { readFileChecked, writeFileAtomic } from "./atomic.ts";

// Fault injection: atomic.ts imports node:fs by name, so failures are injected through a mock
// that forwards to the real module unless a fault is armed.
const fault = vi.hoisted(() => ({ write: false, fsync: false, rename: false }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const errno = (code: string): Error => Object.assign(new Error(`${code}: simulated failure`), { code });
  return {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (fault.write) {
        fs.writeSync(fd, buf, off, Math.min(len, 3)); // a partial write, then the disk is full
        throw errno("ENOSPC");
      }
      return fs.writeSync(fd, buf, off, len);
    }) as typeof fs.writeSync,
    fsyncSync: (fd: number) => {
      if (fault.fsync) throw errno("EIO");
      fs.fsyncSync(fd);
    },
    renameSync: (a: string, b: string) => {
      if (fault.rename) throw errno("EXDEV");
      fs.renameSync(a, b);
    },
  };
});

const dir = realFs.mkdtempSync(join(tmpdir(), "bptt-atomic-"));
afterAll(() => realFs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  fault.write = fault.fsync = fault.rename = false;
});
const temps = (): string[] => realFs.readdirSync(dir).filter((f) => f.endsWith(".tmp"));
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("writeFileAtomic", () => {
  it("creates and replaces a file", () => {
    const p = join(dir, "a.bin");
    writeFileAtomic(p, bytes("first"));
    writeFileAtomic(p, bytes("second"));
    expect(realFs.readFileSync(p, "utf8")).toBe("second");
    writeFileAtomic(p, new Uint8Array(0));
    expect(realFs.readFileSync(p).length).toBe(0);
    expect(temps()).toEqual([]);
  });

  for (const [name, arm, message] of [
    ["disk full after a partial write", () => (fault.write = true), /disk is full \(ENOSPC\); the previous file is untouched/],
    ["fsync fails", () => (fault.fsync = true), /cannot write: EIO: simulated failure; the previous file is untouched/],
    ["rename fails", () => (fault.rename = true), /cannot write: EXDEV/],
  ] as const) {
    it(`${name}: the old file is intact and no temporary file is left`, () => {
      const p = join(dir, "keep.bin");
      writeFileAtomic(p, bytes("old content"));
      arm();
      expect(() => writeFileAtomic(p, bytes("new content that never lands"))).toThrowError(CheckpointError);
      expect(() => writeFileAtomic(p, bytes("new content that never lands"))).toThrowError(message);
      expect(realFs.readFileSync(p, "utf8")).toBe("old content");
      expect(temps()).toEqual([]);
    });
  }

  it("a failure on a new file leaves nothing behind", () => {
    const p = join(dir, "never.bin");
    fault.fsync = true;
    expect(() => writeFileAtomic(p, bytes("x"))).toThrowError(CheckpointError);
    expect(realFs.existsSync(p)).toBe(false);
    expect(temps()).toEqual([]);
  });

  it("keeps the permissions of the file it replaces and writes through a symbolic link", () => {
    const p = join(dir, "mode.bin");
    writeFileAtomic(p, bytes("1"));
    realFs.chmodSync(p, 0o640);
    writeFileAtomic(p, bytes("2"));
    expect(realFs.statSync(p).mode & 0o777).toBe(0o640);
    const link = join(dir, "link.bin");
    realFs.symlinkSync(p, link);
    writeFileAtomic(link, bytes("3"));
    expect(realFs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realFs.readFileSync(p, "utf8")).toBe("3");
  });
});

describe("readFileChecked", () => {
  it("reads a file into a fresh Uint8Array", () => {
    const p = join(dir, "r.bin");
    realFs.writeFileSync(p, "abc");
    expect([...readFileChecked(p)]).toEqual([97, 98, 99]);
  });
  it("refuses files over the limit before reading them", () => {
    const p = join(dir, "big.bin");
    realFs.writeFileSync(p, new Uint8Array(100));
    expect(() => readFileChecked(p, { maxBytes: 99 })).toThrowError(/big\.bin: file is 100 bytes; expected at most 99/);
    expect(readFileChecked(p, { maxBytes: 100 }).length).toBe(100);
  });
  it("missing file, directory", () => {
    expect(() => readFileChecked(join(dir, "nope"))).toThrowError(CheckpointError);
    expect(() => readFileChecked(join(dir, "nope"))).toThrowError(/nope: no such file/);
    expect(() => readFileChecked(dir)).toThrowError(/is a directory; expected a checkpoint file/);
  });
  it.runIf(process.platform !== "win32")("a FIFO is refused without blocking on it", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect(() => readFileChecked(fifo)).toThrowError(/fifo: is not a regular file/);
  });
});
