/**
 * Peak memory of a real training run: the built CLI (`bin/bptt.js train`, what a user runs) in a
 * child process of its own, so that the figure is that run's alone — not this benchmark's, which
 * runs from TypeScript source (with the TypeScript compiler loaded in every worker thread) and has
 * measured other shapes before. The child's peak resident set size (getrusage's ru_maxrss, which
 * counts every thread of the process) is reported by a hook given with `--import`, which leaves the
 * CLI itself untouched.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CellName } from "../src/cells/types.ts";

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
 * The peak RSS of `bptt train` on the bundled corpus for MEMORY_STEPS steps, with the run's validation
 * pass (on 2 % of the text, to keep it short: the pass reuses the training engine's memory, so its
 * length does not change the peak), checkpoint write and closing samples.
 * @param shape H, T, B of the model and batch (one layer, tanh for the RNN, Adam: the CLI's defaults)
 * @param threads --threads
 * @param cell --cell: rnn (the default), lstm or gru
 * @returns the peak and the time taken
 */
export function trainingPeak(shape: { H: number; T: number; B: number }, threads: number, cell: CellName = "rnn"): PeakMemory {
  const dir = mkdtempSync(join(tmpdir(), "bptt-bench-memory-"));
  try {
    return peakOf([
      BIN, "train", "--cell", cell, "--hidden", String(shape.H), "--seq-length", String(shape.T), "--batch-size", String(shape.B),
      "--steps", String(MEMORY_STEPS), "--threads", String(threads), "--val-fraction", "0.02", "--out", join(dir, "model.safetensors"),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
