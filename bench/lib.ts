/**
 * Shared pieces of the benchmarks: the machine's description, timing, and the GEMM micro-benchmark.
 */
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
      const key = name === "gemm" ? `gemm ${gemmKey(Number(args[3]), Number(args[4]), Number(args[5]), args[6] === true, args[7] === true)}` : name;
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
