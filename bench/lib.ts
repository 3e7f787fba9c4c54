/**
 * Shared pieces of the benchmarks: the machine's description, timing, and the GEMM micro-benchmark.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { Kernels } from "../src/kernels/types.ts";
import { Rng } from "../src/rng.ts";

/** What absolute numbers depend on: printed with every result. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
}

/** @returns cores, CPU model (os.cpus()), memory, Node version */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** @returns the median of the values (which it sorts) */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const n = values.length;
  return n === 0 ? NaN : n % 2 === 1 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/** @returns the process's peak resident set size so far, in MiB */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** One GEMM shape: C (M×N) += op(A) op(B), op given as "NN", "NT", "TN". */
export interface GemmShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly op: "NN" | "NT" | "TN";
  /** What the product is in the model, e.g. "recurrence h_{t−1}W_hᵀ". */
  readonly what: string;
}

/** A measured GEMM shape. */
export interface GemmResult extends GemmShape {
  readonly gflops: number;
}

/**
 * Time C += op(A)·op(B) on arrays from the kernels' own allocator (so the WebAssembly kernels run in place).
 * @param k kernels
 * @param s shape
 * @param seconds time to spend measuring (split into 5 batches; the median batch counts)
 * @returns GFLOP/s, counting 2·M·N·K per product
 */
export function benchGemm(k: Kernels, s: GemmShape, seconds: number): GemmResult {
  const { M, N, K, op } = s;
  const rng = new Rng(7);
  const a = k.allocate(M * K), b = k.allocate(K * N), c = k.allocate(M * N);
  for (const x of [a, b]) for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  const transA = op === "TN", transB = op === "NT";
  const once = (): number => {
    const t0 = performance.now();
    k.gemm(c, a, b, M, N, K, transA, transB, true);
    return performance.now() - t0;
  };
  // warm up (and let the WebAssembly tier up), then size batches to seconds/5 each
  let first = once();
  if (first >= seconds * 1000) {
    // one product takes the whole budget (the portable kernels at large shapes): time one more
    const result = { ...s, gflops: (2 * M * N * K) / (Math.min(first, once()) * 1e6) };
    for (const x of [a, b, c]) k.free(x);
    return result;
  }
  for (let i = 0; i < 3 && first < 50; i++) first = Math.min(first, once());
  const reps = Math.max(1, Math.round((seconds * 1000) / 5 / Math.max(first, 1e-3)));
  const perCall: number[] = [];
  for (let batch = 0; batch < 5; batch++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) k.gemm(c, a, b, M, N, K, transA, transB, true);
    perCall.push((performance.now() - t0) / reps);
    if (reps === 1 && perCall.reduce((x, y) => x + y, 0) > seconds * 1000) break;
  }
  k.free(a);
  k.free(b);
  k.free(c);
  return { ...s, gflops: (2 * M * N * K) / (median(perCall) * 1e6) };
}

/** Time and calls per kernel (GEMMs per shape: "gemm M×N×K op"), as `profiledKernels` counts them. */
export type KernelProfile = Map<string, { ms: number; calls: number }>;

/** The methods of Kernels that do no arithmetic: passed through untimed. */
const UNTIMED = new Set(["allocate", "free", "isResident"]);

/**
 * The same kernels with every arithmetic call timed: what a step's time goes to, kernel by kernel
 * (the engine and the optimizer call nothing else heavy). For a breakdown, not for the step's speed:
 * the timer costs about 0.1 µs a call, a few hundred calls a step.
 * @param k kernels (an object of methods, as portableKernels and wasmKernels are)
 * @returns kernels to give an engine and an optimizer, and the profile they fill in
 */
export function profiledKernels(k: Kernels): { readonly kernels: Kernels; readonly profile: KernelProfile } {
  const profile: KernelProfile = new Map();
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(k)) {
    if (typeof value !== "function" || UNTIMED.has(name)) {
      wrapped[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]): unknown => {
      const t0 = performance.now();
      const result = fn.apply(k, args);
      const ms = performance.now() - t0;
      // gemm(c, a, b, M, N, K, transA, transB, accumulate)
      // gemm(c, a, b, M, N, K, transA, transB, accumulate); gemmPacked(c, a, packed, M, N, K, transA, accumulate): op "NP", B packed
      const key = name === "gemm" ? `gemm ${gemmKey(Number(args[3]), Number(args[4]), Number(args[5]), args[6] === true, args[7] === true)}`
        : name === "gemmPacked" ? `gemmPacked ${gemmKey(Number(args[3]), Number(args[4]), Number(args[5]), args[6] === true, false).replace(/N$/, "P")}`
        : name;
      const e = profile.get(key);
      if (e === undefined) profile.set(key, { ms, calls: 1 });
      else {
        e.ms += ms;
        e.calls++;
      }
      return result;
    };
  }
  if (typeof wrapped["gemm"] !== "function") throw new Error("profiledKernels: the kernels' methods must be own properties");
  // every method of Kernels was copied (own enumerable properties of an object literal)
  return { kernels: wrapped as unknown as Kernels, profile };
}

/** @returns "M×N×K op", op one of NN, NT, TN, TT: how GEMM shapes are named in the tables */
export function gemmKey(M: number, N: number, K: number, transA: boolean, transB: boolean): string {
  return `${M}×${N}×${K} ${transA ? "T" : "N"}${transB ? "T" : "N"}`;
}

/** A kernel set's name in the bench's tables: the WebAssembly kernels with their build (wasm-fma, wasm-simd). */
export function kernelLabel(k: Kernels): string {
  return "build" in k ? `${k.name}-${String(k.build)}` : k.name;
}

/**
 * The WebAssembly FMA peak of one core, flop per cycle: 4 float32 lanes (128-bit SIMD) × 2 flop
 * (a fused multiply-add) × 2 FMA units. GFLOP/s over 16·GHz is a GEMM's share of that peak.
 */
export const FMA_FLOP_PER_CYCLE = 16;

/** The clock the FMA peak is computed from, and where the figure came from. */
export interface Clock {
  readonly ghz: number;
  /** How it was found: --ghz, perf's cycle counter, or the timed dependent chain (with what else was tried). */
  readonly source: string;
}

/**
 * The core clock while it runs this process's code (turbo included), found the most direct way this machine allows:
 * `override` (--ghz) when given; else `perf stat -e cycles` over a busy child process, where the
 * kernel exposes a cycle counter (virtual machines often do not: "<not supported>"); else a timed
 * chain of dependent integer adds and xors, one cycle each on every x86-64 and ARM64 core.
 * /proc/cpuinfo's "cpu MHz" is only quoted: in a virtual machine it can be the nominal clock, below the
 * turbo clock the code runs at (bench/README.md).
 * @param override GHz given with --ghz, or undefined
 * @returns the clock and its source
 */
export function findClock(override: number | undefined): Clock {
  if (override !== undefined) return { ghz: override, source: "given with --ghz" };
  const perf = perfGHz();
  if (perf.ghz !== undefined) return { ghz: perf.ghz, source: "perf stat -e cycles (cycles / task-clock of a busy loop)" };
  const cpuinfo = cpuinfoGHz();
  const also = [`perf stat -e cycles: ${perf.why}`, cpuinfo === undefined ? "" : `/proc/cpuinfo says ${cpuinfo.toFixed(2)} GHz`];
  return { ghz: chainGHz(), source: `timed dependent add/xor chain, 1 cycle per op (${also.filter((s) => s !== "").join("; ")})` };
}

/** A loop that keeps one core busy for ~0.1 s: what perf counts the cycles of. */
const BUSY_LOOP = "let x = 0; for (let i = 0; i < 2e8; i++) x = (x + i) ^ 7; if (x === 1) console.log(x);";

/** @returns GHz from `perf stat` over a busy Node process, or why there is none */
function perfGHz(): { ghz: number; why?: undefined } | { ghz?: undefined; why: string } {
  const r = spawnSync("perf", ["stat", "-x,", "-e", "cycles,task-clock", "--", process.execPath, "-e", BUSY_LOOP], { encoding: "utf8" });
  if (r.error !== undefined) return { why: "no perf" };
  if (r.status !== 0) return { why: `exit ${String(r.status)}` };
  const ghz = ghzFromPerfStat(r.stderr);
  return ghz === undefined ? { why: /<not (supported|counted)>/.test(r.stderr) ? "not supported here" : "no cycle count" } : { ghz };
}

/**
 * Parse `perf stat -x, -e cycles,task-clock` (CSV: value, unit, event, ...).
 * @param csv perf's stderr
 * @returns cycles / task-clock in GHz, or undefined when either is missing or not counted
 */
export function ghzFromPerfStat(csv: string): number | undefined {
  let cycles: number | undefined, ms: number | undefined;
  for (const line of csv.split("\n")) {
    const [value = "", unit = "", event = ""] = line.split(",");
    const n = Number(value);
    if (value === "" || !Number.isFinite(n) || n <= 0) continue;
    if (/^cycles(:u)?$/.test(event)) cycles = n;
    else if (event.startsWith("task-clock") && unit === "msec") ms = n;
  }
  return cycles === undefined || ms === undefined ? undefined : cycles / (ms * 1e6);
}

/** @returns /proc/cpuinfo's first "cpu MHz" in GHz, or undefined where there is none */
function cpuinfoGHz(): number | undefined {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m === null ? undefined : Number(m[1]) / 1000;
  } catch {
    return undefined;
  }
}

/**
 * 16 dependent integer operations per iteration (a 32-bit add and an xor: one cycle of latency each, and
 * `| 0` makes the add one without an overflow check; the loop's own counter and branch run beside the
 * chain). Arguments, not constants, keep the JIT from folding the chain.
 */
function chain(n: number, a: number, b: number): number {
  let x = n | 0;
  for (let i = 0; i < n; i++) {
    x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b;
    x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b; x = ((x + a) | 0) ^ b;
  }
  return x;
}

/**
 * The clock from a timed dependent chain: operations per nanosecond. The fastest of many short runs counts:
 * another process (or the hypervisor) can only slow a run down, never speed it up, and on a shared machine
 * a run of ~1 ms is much likelier to go uninterrupted than a longer one.
 * @returns GHz
 */
export function chainGHz(): number {
  const n = 250_000; // 4 M operations, ~1 ms at 4 GHz; 200 runs
  let best = 0;
  let x = 0x5bd1e995;
  for (let r = 0; r < 200; r++) {
    const t0 = performance.now();
    x = chain(n, r + 1, x | 1); // each run's result is the next one's argument: none can be left out
    best = Math.max(best, (16 * n) / ((performance.now() - t0) * 1e6));
  }
  return best;
}
