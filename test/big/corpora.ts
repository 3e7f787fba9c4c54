/**
 * Big generated corpora for the tests of test/big/: written to os.tmpdir() in blocks (never held
 * whole), deleted by the caller; and the free disk space, from `df`, to skip loudly when short.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * Bytes free on the file system of `dir`, from `df -Pk`.
 * @returns the bytes, or undefined when df cannot say
 */
export function freeBytes(dir: string): number | undefined {
  const r = spawnSync("df", ["-Pk", dir], { encoding: "utf8" });
  const fields = r.status === 0 ? r.stdout.trim().split("\n").at(-1)?.split(/\s+/) : undefined;
  const kib = Number(fields?.[3]);
  return Number.isFinite(kib) ? kib * 1024 : undefined;
}

/** What `writeCorpus` wrote. */
export interface WrittenCorpus {
  readonly bytes: number;
  /** Characters (code points): the number of ids. */
  readonly chars: number;
  /** Distinct characters: V. */
  readonly vocabSize: number;
}

/**
 * Write a text of `bytes` bytes (to the last whole line) to `path`, from one block repeated.
 * "latin": the bundled Shakespeare with a line of accented letters and an emoji per copy (V = 73,
 * 1-byte ids); "cjk": pseudo-random lines over 3,000 CJK ideographs (V = 3,001, 2-byte ids).
 * @returns its size, characters and vocabulary size
 */
export function writeCorpus(path: string, bytes: number, kind: "latin" | "cjk"): WrittenCorpus {
  const text = kind === "latin" ? latinBlock() : cjkBlock();
  const block = new TextEncoder().encode(text);
  const fd = openSync(path, "w");
  let written = 0;
  let chars = 0;
  try {
    while (written < bytes) {
      let part = block.subarray(0, Math.min(block.length, bytes - written));
      if (part.length < block.length) part = part.subarray(0, part.lastIndexOf(0x0a) + 1); // whole lines only
      if (part.length === 0) break;
      written += writeSync(fd, part);
      for (let i = 0; i < part.length; i++) if (((part[i] as number) & 0xc0) !== 0x80) chars++;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes: written, chars, vocabSize: new Set(text).size };
}

function latinBlock(): string {
  const shakespeare = readFileSync(join(ROOT, "data", "tinyshakespeare.txt"), "utf8");
  return `${shakespeare}\nÉté, naïve café — señor, Grüße 😀\n`;
}

function cjkBlock(): string {
  let x = 12345;
  const lines: string[] = [];
  for (let l = 0; l < 40_000; l++) {
    let line = "";
    for (let k = 0; k < 30; k++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      line += String.fromCodePoint(0x4e00 + ((x >>> 8) % 3000));
    }
    lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}
