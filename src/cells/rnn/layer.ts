/**
 * The recurrence of one simple RNN layer over a batch of B sequences and T steps (DESIGN §2):
 * the input projection W_i x_t for all steps is computed beforehand (a gather for one-hot input,
 * a GEMM for a stacked layer) and written into the output slots; only the recurrence
 * h_t = f1(pre_t + h_{t−1} W_hᵀ) runs step by step here, and so does its backward recursion.
 *
 * Shapes (time-major, so h_t of all sequences is one contiguous (B, H) block):
 *   hs  (T+1, B, H)  slot 0 = h_0, slot t = h_t
 *   dhs (T, B, H)    slot t−1: on entry to backward ∂E/∂h_t from above (output layer or next layer);
 *                    on return dh̄_t = ∂E/∂h̄_t (reused in place: the upstream gradient is not needed again)
 *   Wh (H, H), bih/bhh (H) as PyTorch's nn.RNN: h̄_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh.
 * Memory: (2T + 1)·B·H floats, allocated once per shape by `createRnnBuffers`.
 */
import type { Kernels } from "../kernels/types.ts";
import type { Nonlinearity } from "../model/config.ts";

/** Activations and gradient buffers of one layer for one (T, B) shape, with per-step views made once. */
export interface RnnBuffers {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  /** (T+1, B, H): h_0 … h_T */
  readonly hs: Float32Array;
  /** hs slots 1..T, (T·B, H): where the input projection goes in and h_1..h_T come out */
  readonly hOut: Float32Array;
  /** hs slots 0..T−1, (T·B, H): h_{t−1} for every row */
  readonly hPrev: Float32Array;
  /** (T, B, H): upstream gradient in, dh̄ out */
  readonly dhs: Float32Array;
  /** hStep[t] = slot t of hs (B, H), t = 0..T */
  readonly hStep: readonly Float32Array[];
  /** dStep[t] = slot t of dhs (B, H), t = 0..T−1, i.e. step t+1 */
  readonly dStep: readonly Float32Array[];
}

/**
 * Floats of memory the buffers of one layer take (hs and dhs, each starting on a 64-byte boundary).
 * @returns the length of the block `createRnnBuffers` carves its arrays from
 */
export function rnnBufferFloats(T: number, B: number, H: number): number {
  return alignFloats((T + 1) * B * H) + T * B * H;
}

/**
 * Allocate the buffers of one layer, or carve them out of a block the caller allocated
 * (kernel memory: see Kernels.allocate).
 * @param memory block of at least rnnBufferFloats(T, B, H) zeroed floats; default a new array
 * @returns zeroed buffers with precomputed per-step views
 */
export function createRnnBuffers(
  T: number, B: number, H: number, memory: Float32Array = new Float32Array(rnnBufferFloats(T, B, H)),
): RnnBuffers {
  const n = B * H;
  const dhsAt = alignFloats((T + 1) * n);
  const hs = memory.subarray(0, (T + 1) * n);
  const dhs = memory.subarray(dhsAt, dhsAt + T * n);
  const hStep: Float32Array[] = [];
  for (let t = 0; t <= T; t++) hStep.push(hs.subarray(t * n, (t + 1) * n));
  const dStep: Float32Array[] = [];
  for (let t = 0; t < T; t++) dStep.push(dhs.subarray(t * n, (t + 1) * n));
  return { T, B, H, hs, hOut: hs.subarray(n), hPrev: hs.subarray(0, T * n), dhs, hStep, dStep };
}

/**
 * Forward recurrence. On entry hs slot 0 holds h_0 and slots 1..T hold W_i x_t; on return they hold h_t.
 * @param buf the layer's buffers
 * @param Wh recurrent weight (H, H)
 * @param bih input bias (H) or undefined
 * @param bhh recurrent bias (H) or undefined
 * @param f nonlinearity f1
 */
export function rnnForward(
  buf: RnnBuffers, Wh: Float32Array, bih: Float32Array | undefined, bhh: Float32Array | undefined,
  f: Nonlinearity, k: Kernels,
): void {
  const { T, B, H, hStep } = buf;
  // F1  h̄_t = W_i x_t + b_ih + b_hh + …, the biases for all T·B rows at once
  if (bih !== undefined) k.addRowVector(buf.hOut, bih, T * B, H);
  if (bhh !== undefined) k.addRowVector(buf.hOut, bhh, T * B, H);
  for (let t = 1; t <= T; t++) {
    // F1  h̄_t += W_h h_{t−1}   (row form h_{t−1} W_hᵀ)
    k.gemm(hStep[t], hStep[t - 1], Wh, B, H, H, false, true, true);
    // F2  h_t = f1(h̄_t)
    k.activate(hStep[t], f, B * H);
  }
}

/**
 * Backward recursion (BPTT). On entry dhs holds ∂E/∂h_t from above for t = 1..T; on return it holds dh̄_t.
 * Gradients are accumulated (+=) into dWh, dbih, dbhh; dh0 is overwritten.
 * @param buf the layer's buffers, as left by rnnForward
 * @param Wh recurrent weight (H, H)
 * @param dWh its gradient (H, H)
 * @param dbih gradient of b_ih or undefined
 * @param dbhh gradient of b_hh or undefined
 * @param dh0 ∂E/∂h_0 (B, H), overwritten
 * @param f nonlinearity f1
 */
export function rnnBackward(
  buf: RnnBuffers, Wh: Float32Array, dWh: Float32Array,
  dbih: Float32Array | undefined, dbhh: Float32Array | undefined, dh0: Float32Array,
  f: Nonlinearity, k: Kernels,
): void {
  const { T, B, H, hStep, dStep } = buf;
  for (let t = T; t >= 1; t--) {
    // B3  dh_t = (from above) + W_hᵀ dh̄_{t+1}   (row form dh̄_{t+1} W_h; dh̄_{T+1} = 0)
    if (t < T) k.gemm(dStep[t - 1], dStep[t], Wh, B, H, H, false, false, true);
    // B4  dh̄_t = f1'(h̄_t) ⊙ dh_t, with f1' from the stored h_t
    k.activateBackward(dStep[t - 1], hStep[t], f, B * H);
  }
  // B5  dW_h += Σ_t dh̄_t h_{t−1}ᵀ   (one GEMM over all T·B rows)
  k.gemm(dWh, buf.dhs, buf.hPrev, H, H, T * B, true, false, true);
  // B5  db_h += Σ_t dh̄_t   (b_ih and b_hh each get the whole gradient of b_h = b_ih + b_hh)
  if (dbih !== undefined) k.sumRows(dbih, buf.dhs, T * B, H);
  if (dbhh !== undefined) k.sumRows(dbhh, buf.dhs, T * B, H);
  // B6  dh_0 = W_hᵀ dh̄_1
  k.gemm(dh0, dStep[0], Wh, B, H, H, false, false, false);
}

/** Round a count of floats up to a multiple of 16 (64 bytes: a cache line, four SIMD vectors). */
export function alignFloats(n: number): number {
  return Math.ceil(n / 16) * 16;
}
