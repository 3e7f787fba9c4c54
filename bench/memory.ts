/**
 * Peak memory of a real training run: the built CLI (`bin/bptt.js train`, what a user runs) in a
 * child process of its own, so that the figure is that run's alone — not this benchmark's, which
 * runs from TypeScript source (with the TypeScript compiler loaded in every worker thread) and has
 * measured other shapes before. The child's peak resident set size (getrusage's ru_maxrss, which
 * counts every thread of the process) is reported by a hook given with `--import`, which leaves the
 * CLI itself untouched.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CellName } from "../src/cells/types.ts";
import { Rng } from "../src/rng.ts";

/** The marker the hook prints the peak after. */
const MARK = "bptt-bench-peak-rss-kib=";
/** Loaded before the program: prints the process's peak RSS (KiB) to stderr when it exits. */
const HOOK = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from "node:fs";\n` +
    `process.on("exit", () => writeSync(2, "\\n${MARK}" + process.resourceUsage().maxRSS + "\\n"));`,
)}`;
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "bptt.js");

/** Training steps of a measured run: enough for every buffer and the optimizer state to exist. */
export const MEMORY_STEPS = 3;

/** What one child process measured. */
export interface PeakMemory {
  /** Peak resident set size of the whole process (all threads), MiB. */
  readonly peakMiB: number;
  /** Wall-clock seconds the child ran. */
  readonly seconds: number;
}

/** @returns whether the built CLI exists (`npm run build`, part of `npm ci`) */
export function cliBuilt(): boolean {
  return existsSync(join(ROOT, "dist", "cli", "main.js"));
}

/**
 * Run node with the hook and report its peak RSS.
 * @param args arguments after `node --import HOOK`
 * @returns the peak and the time taken
 * @throws Error with the child's stderr when it fails or prints no peak
 */
function peakOf(args: readonly string[]): PeakMemory {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", HOOK, ...args], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const seconds = (performance.now() - t0) / 1000;
  const line = r.stderr.split("\n").find((l) => l.startsWith(MARK));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`node ${args.join(" ")} failed (exit ${String(r.status)}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  return { peakMiB: Number(line.slice(MARK.length)) / 1024, seconds };
}

/** @returns the peak RSS of a Node process that runs nothing: the runtime's own share of every figure */
export function bareNodePeak(): PeakMemory {
  return peakOf(["-e", ""]);
}

/**
 * The V symbols of a wide vocabulary: the first V CJK unified ideographs (U+4E00 on), as a Chinese or
 * Japanese text has thousands of distinct characters.
 * @param V symbols, at most 20,992 (the block's size)
 * @returns V one-character strings
 */
export function wideSymbols(V: number): string[] {
  return Array.from({ length: V }, (_, i) => String.fromCodePoint(0x4e00 + i));
}

/**
 * A text of `length` characters over `wideSymbols(V)`: every symbol once, then uniformly random ones.
 * @returns the text
 */
export function wideText(V: number, length: number, seed = 1): string {
  const symbols = wideSymbols(V);
  const rng = new Rng(seed);
  const parts = [...symbols];
  for (let i = V; i < length; i++) parts.push(symbols[rng.int(V)] as string);
  return parts.join("");
}

/** Characters of the text a wide-vocabulary run trains on: many chunks of T·B = 1,600, and 4,000 for validation. */
const WIDE_TEXT_LENGTH = 200_000;

/**
 * The peak RSS of `bptt train` for MEMORY_STEPS steps, with the run's validation pass (on 2 % of the
 * text, to keep it short: the pass reuses the training engine's memory, so its length does not change
 * the peak), checkpoint write and closing samples; on the bundled corpus (V = 65), or for `shape.V`
 * above 65 on a generated `wideText` of that many symbols.
 * @param shape H, T, B of the model and batch, and V; one layer and no dropout, as the bench's step runs
 *   (the CLI's defaults are 2 layers, dropout 0.2 and output dropout 0.2: given explicitly here), tanh for the
 *   RNN, Adam (the CLI's defaults)
 * @param threads --threads
 * @param cell --cell: rnn (this function's default), lstm or gru
 * @returns the peak and the time taken
 */
export function trainingPeak(shape: { H: number; T: number; B: number; V?: number }, threads: number, cell: CellName = "rnn"): PeakMemory {
  const dir = mkdtempSync(join(tmpdir(), "bptt-bench-memory-"));
  try {
    const data: string[] = [];
    if (shape.V !== undefined && shape.V > 65) {
      const file = join(dir, "wide.txt");
      writeFileSync(file, wideText(shape.V, WIDE_TEXT_LENGTH));
      data.push("--data", file);
    }
    return peakOf([
      BIN, "train", ...data, "--cell", cell, "--layers", "1", "--output-dropout", "0",
      "--hidden", String(shape.H), "--seq-length", String(shape.T), "--batch-size", String(shape.B),
      "--steps", String(MEMORY_STEPS), "--threads", String(threads), "--val-fraction", "0.02", "--out", join(dir, "model.safetensors"),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
