/** Memory layout helpers shared by the cells' buffers and the model's, and the recurrence's packed W_hh. */
import { packedFloats } from "../kernels/packed.ts";
import type { Kernels } from "../kernels/types.ts";

/** Round a count of floats up to a multiple of 16 (64 bytes: a cache line, four SIMD vectors). */
export function alignFloats(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/**
 * Per-step views of a time-major array, made once when the buffers are made.
 * @param a (count·width) values
 * @param count number of steps
 * @param width values per step (B·H, or B·G·H)
 * @returns views[t] = a[t·width, (t+1)·width)
 */
export function stepViews(a: Float32Array, count: number, width: number): Float32Array[] {
  return Array.from({ length: count }, (_, t) => a.subarray(t * width, (t + 1) * width));
}

/**
 * Whether a chunk of T steps of B rows packs W_hh once for its recurrence (`recurrentProduct`).
 * With several steps every product reads the packed panels instead of packing W_hh itself
 * (measured 1.1–1.25× on the per-step products at M and L). A one-step chunk (sampling, one
 * character at a time) and a batch under 4 rows multiply directly: packing costs about one
 * product, and below 4 rows the WebAssembly GEMM reads W_hh unpacked anyway.
 * @param T steps of the chunk
 * @param B rows (sequences) per step
 */
export function packsRecurrence(T: number, B: number): boolean {
  return T >= 2 && B >= 4;
}

/**
 * Floats of a layer's room for its packed W_hh (G·H×H): forward packs op(W_hh) = W_hhᵀ
 * (K = H, N = G·H), backward W_hh itself (K = G·H, N = H), one after the other in the same room;
 * none when the chunk does not pack (`packsRecurrence`).
 * @param T steps of the chunk
 * @param B rows per step
 * @param G gate blocks
 * @param H hidden units
 */
export function packedRecurrentFloats(T: number, B: number, G: number, H: number): number {
  return packsRecurrence(T, B) ? alignFloats(Math.max(packedFloats(G * H, H), packedFloats(H, G * H))) : 0;
}

/** One step's product by W_hh in a recurrence: c (+)= a · op(W_hh), a (M, K), c (M, N). */
export type RecurrentProduct = (c: Float32Array, a: Float32Array, M: number, accumulate: boolean) => void;

/**
 * The products of a chunk's recurrence by W_hh, one per step: op(W_hh) (K×N) packed once into
 * `packed` when the chunk packs (`packsRecurrence`), so that each step's product skips the packing;
 * else direct `gemm` calls. The same results (the WebAssembly GEMM runs the same micro-kernel over
 * the same panels; src/kernels/kernels.test.ts checks the bits from 4 rows up).
 * @param k kernels
 * @param packed the layer's room (`packedRecurrentFloats` floats)
 * @param Wh the recurrent weight W_hh, (G·H, H)
 * @param N columns of op(W_hh)
 * @param K rows of op(W_hh)
 * @param transB op(W_hh) = W_hhᵀ (forward) rather than W_hh (backward)
 * @param T steps of the chunk
 * @param B rows per step
 * @returns the product of one step
 */
export function recurrentProduct(
  k: Kernels, packed: Float32Array, Wh: Float32Array, N: number, K: number, transB: boolean, T: number, B: number,
): RecurrentProduct {
  if (!packsRecurrence(T, B)) return (c, a, M, accumulate) => k.gemm(c, a, Wh, M, N, K, false, transB, accumulate);
  k.packB(packed, Wh, N, K, transB);
  return (c, a, M, accumulate) => k.gemmPacked(c, a, packed, M, N, K, false, accumulate);
}
