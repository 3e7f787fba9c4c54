import { execFileSync, spawnSync } from "node:child_process";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { CheckpointError } from "../errors.ts";
import type { ModelConfig } from "../model/config.ts";
import { paramCount } from "../model/params.ts";
import { FileWriteError, readFileChecked, removeStaleTemps, writeFileAtomic } from "./atomic.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint-file.ts";

// Fault injection: atomic.ts imports node:fs by name, so failures are injected through a mock
// that forwards to the real module unless a fault is armed. Every write call is recorded, and
// from call number `failFromWrite` on (counted from the last `armWrite`), the disk is full.
const fault = vi.hoisted(() => ({
  writes: [] as { buf: Uint8Array; off: number; len: number }[],
  failFromWrite: Infinity,
  fsync: false,
  rename: false,
}));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const errno = (code: string): Error => Object.assign(new Error(`${code}: simulated failure`), { code });
  return {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) => {
      fault.writes.push({ buf, off, len });
      if (fault.writes.length >= fault.failFromWrite) {
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
  fault.writes = [];
  fault.failFromWrite = Infinity;
  fault.fsync = fault.rename = false;
});
/** The disk fills up at the n-th write call from now on (1: the first write of the next file). */
const armWrite = (n: number): void => {
  fault.writes = [];
  fault.failFromWrite = n;
};
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
    ["disk full after a partial write", () => armWrite(1), /disk is full \(ENOSPC\); the previous file is untouched/],
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

  it("writes a list of parts in order, each from its own memory (no concatenated copy)", () => {
    const p = join(dir, "parts.bin");
    const wide = bytes("..view..");
    const parts = [bytes("head:"), new Uint8Array(0), wide.subarray(2, 6), Buffer.from("|tail")];
    fault.writes = [];
    writeFileAtomic(p, parts);
    expect(realFs.readFileSync(p, "utf8")).toBe("head:view|tail");
    // one call per non-empty part, on the part itself
    expect(fault.writes.map((w) => [w.buf, w.off, w.len])).toEqual([[parts[0], 0, 5], [parts[2], 0, 4], [parts[3], 0, 5]]);
    for (const [i, k] of [[0, 0], [1, 2], [2, 3]] as const) expect(fault.writes[i]!.buf).toBe(parts[k]);
    writeFileAtomic(p, []);
    expect(realFs.readFileSync(p).length).toBe(0);
    expect(temps()).toEqual([]);
  });

  it("disk full in the middle of the parts: the old file is intact and no temporary file is left", () => {
    const p = join(dir, "keep-parts.bin");
    writeFileAtomic(p, [bytes("old "), bytes("content")]);
    armWrite(3); // the first two parts land, the third is cut short
    const parts = [bytes("new "), bytes("content "), bytes("that never "), bytes("lands")];
    expect(() => writeFileAtomic(p, parts)).toThrowError(/keep-parts\.bin: cannot write, the disk is full \(ENOSPC\); the previous file is untouched/);
    expect(fault.writes.map((w) => w.buf)).toEqual(parts.slice(0, 3));
    expect(realFs.readFileSync(p, "utf8")).toBe("old content");
    expect(temps()).toEqual([]);
  });

  it("saveCheckpoint: disk full inside the tensor data keeps the previous checkpoint", () => {
    const p = join(dir, "m.safetensors");
    const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: 4, vocabSize: 5, bias: true };
    const ckpt = (x: number): Checkpoint => ({
      config, vocab: undefined, params: new Float32Array(paramCount(config)).fill(x), extra: new Map(), metadata: {},
    });
    saveCheckpoint(p, ckpt(1));
    const before = realFs.readFileSync(p);
    armWrite(4); // header, rnn.weight_ih_l0, rnn.weight_hh_l0, then rnn.bias_ih_l0 fails
    expect(() => saveCheckpoint(p, ckpt(2))).toThrowError(/disk is full \(ENOSPC\); the previous file is untouched/);
    expect(fault.writes.length).toBe(4);
    expect(fault.writes[3]!.len).toBe(4 * 4); // it failed inside a tensor's own bytes
    expect(realFs.readFileSync(p)).toEqual(before);
    expect([...loadCheckpoint(p).params]).toEqual(new Array(paramCount(config)).fill(1));
    expect(temps()).toEqual([]);
  });

  it("a failure on a new file leaves nothing behind", () => {
    const p = join(dir, "never.bin");
    fault.fsync = true;
    expect(() => writeFileAtomic(p, bytes("x"))).toThrowError(CheckpointError);
    expect(realFs.existsSync(p)).toBe(false);
    expect(temps()).toEqual([]);
  });

  it("removes the temporary files that killed writes of the same file left, never a live process's or another file's", () => {
    const p = join(dir, "stale.safetensors");
    writeFileAtomic(p, bytes("old"));
    // a process that has exited: its pid is free (until the system reuses it, which a check right after does not see)
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    expect(dead).toBeGreaterThan(0);
    expect(() => process.kill(dead, 0)).toThrowError(expect.objectContaining({ code: "ESRCH" }));
    const name = (pid: number, hex = "0123456789ab"): string => `.stale.safetensors.${pid}.${hex}.tmp`;
    const stale = [name(dead), name(dead, "ba9876543210")];
    const kept = [
      name(process.pid), // this process: a write of its own may be in progress
      name(1), // init, which always runs (EPERM for a user that may not signal it: still running)
      name(process.ppid),
      `.other.safetensors.${dead}.0123456789ab.tmp`, // another file's
      `.stale.safetensors.${dead}.0123.tmp`, // not a name writeFileAtomic makes
      `.stale.safetensors.x${dead}.0123456789ab.tmp`,
      `stale.safetensors.${dead}.0123456789ab.tmp`,
    ];
    for (const f of [...stale, ...kept]) realFs.writeFileSync(join(dir, f), "partial checkpoint");
    try {
      writeFileAtomic(p, bytes("new"));
      expect(realFs.readFileSync(p, "utf8")).toBe("new");
      const left = realFs.readdirSync(dir);
      for (const f of stale) expect(left).not.toContain(f);
      for (const f of kept) expect(left).toContain(f);
      expect(removeStaleTemps(dir, "stale.safetensors")).toEqual([]); // nothing more to remove
      realFs.writeFileSync(join(dir, stale[0]!), "again");
      expect(removeStaleTemps(dir, "stale.safetensors")).toEqual([stale[0]]);
      expect(removeStaleTemps(join(dir, "no-such-dir"), "stale.safetensors")).toEqual([]);
    } finally {
      for (const f of [...stale, ...kept]) realFs.rmSync(join(dir, f), { force: true });
    }
  });

  it("a failed write says which file, the system error code and the problem, for callers that explain it further", () => {
    const p = join(dir, "coded.bin");
    armWrite(1);
    let caught: unknown;
    try {
      writeFileAtomic(p, bytes("x"));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FileWriteError);
    expect(caught).toBeInstanceOf(CheckpointError);
    expect(caught).toMatchObject({ path: p, code: "ENOSPC", problem: "the disk is full (ENOSPC)" });
    expect(() => writeFileAtomic(join(dir, "no-such-dir", "x.bin"), bytes("x"))).toThrowError(
      expect.objectContaining({ code: "ENOENT", problem: "the directory does not exist" }),
    );
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
