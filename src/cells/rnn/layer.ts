/**
 * The fast layer of the simple RNN over a batch of B sequences and T steps (docs/architecture.md, The engines): the model
 * writes the input projection W_i x_t for all steps into the output slots (a gather for one-hot
 * input, a GEMM for a stacked layer); only the recurrence h_t = f1(pre_t + h_{t−1} W_hᵀ) runs step
 * by step here, and so does its backward recursion. Equations F1–F2, B3–B6 of docs/derivation.md.
 *
 * Shapes (time-major, so h_t of all sequences is one contiguous (B, H) block):
 *   hs  (T+1, B, H)  slot 0 = h_0, slot t = h_t; slots 1..T are also xProj (W_i x_t goes in, h_t comes out)
 *   dhs (T, B, H)    slot t−1: on entry to backward ∂E/∂h_t from above (output layer or next layer);
 *                    on return dh̄_t = ∂E/∂h̄_t (reused in place: the upstream gradient is not needed
 *                    again), which is also ∂E/∂(W_i x_t): dhOut and dxProj are the same array
 *   Wh (H, H), bih/bhh (H) as PyTorch's nn.RNN: h̄_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh.
 * The recurrence's products by W_h read it packed once per pass (`recurrentProduct`, src/cells/buffers.ts).
 *   packedWh         room for W_h packed: W_hᵀ's panels in forward, W_h's in backward (none when T = 1 or B < 4)
 * Memory: (2T + 1)·B·H floats + H·H rounded up to whole panels (T ≥ 2, B ≥ 4).
 */
import type { Kernels } from "../../kernels/types.ts";
import { alignFloats, packedRecurrentFloats, recurrentProduct, stepViews } from "../buffers.ts";
import type { CellBuffers, CellLayer, LayerParams, Nonlinearity } from "../types.ts";

/** Activations and gradient buffers of one layer for one (T, B) shape, with per-step views made once. */
export interface RnnBuffers extends CellBuffers {
  /** (T+1, B, H): h_0 … h_T */
  readonly hs: Float32Array;
  /** hs slots 0..T−1, (T·B, H): h_{t−1} for every row */
  readonly hPrev: Float32Array;
  /** (T, B, H): upstream gradient in, dh̄ out */
  readonly dhs: Float32Array;
  /** hStep[t] = slot t of hs (B, H), t = 0..T */
  readonly hStep: readonly Float32Array[];
  /** dStep[t] = slot t of dhs (B, H), t = 0..T−1, i.e. step t+1 */
  readonly dStep: readonly Float32Array[];
}

function bufferFloats(T: number, B: number, H: number): number {
  return alignFloats((T + 1) * B * H) + alignFloats(T * B * H) + packedRecurrentFloats(T, B, 1, H);
}

function createBuffers(T: number, B: number, H: number, memory: Float32Array): RnnBuffers {
  const n = B * H;
  const dhsAt = alignFloats((T + 1) * n);
  const packedAt = dhsAt + alignFloats(T * n);
  const hs = memory.subarray(0, (T + 1) * n);
  const dhs = memory.subarray(dhsAt, dhsAt + T * n);
  const hStep = stepViews(hs, T + 1, n);
  const dStep = stepViews(dhs, T, n);
  const hOut = hs.subarray(n);
  return {
    T, B, H, hs, hPrev: hs.subarray(0, T * n), dhs, hStep, dStep,
    xProj: hOut, hOut, dhOut: dhs, dxProj: dhs, state0: [hStep[0]], stateT: [hStep[T]],
    packedWh: memory.subarray(packedAt, packedAt + packedRecurrentFloats(T, B, 1, H)),
  };
}

/** Forward recurrence. On entry hs slot 0 holds h_0 and slots 1..T hold W_i x_t; on return they hold h_t. */
function forward(buf: RnnBuffers, p: LayerParams<Float32Array>, f: Nonlinearity, k: Kernels): void {
  const { T, B, H, hStep } = buf;
  // F1  h̄_t = W_i x_t + b_ih + b_hh + …, the biases for all T·B rows at once
  if (p.bih !== undefined) k.addRowVector(buf.hOut, p.bih, T * B, H);
  if (p.bhh !== undefined) k.addRowVector(buf.hOut, p.bhh, T * B, H);
  const timesWhT = recurrentProduct(k, buf.packedWh, p.Wh, H, H, true, T, B); // · W_hᵀ, W_h packed once for the T steps
  for (let t = 1; t <= T; t++) {
    // F1  h̄_t += W_h h_{t−1}   (row form h_{t−1} W_hᵀ)
    timesWhT(hStep[t], hStep[t - 1], B, true);
    // F2  h_t = f1(h̄_t)
    k.activate(hStep[t], f, B * H);
  }
}

/** Backward recursion (BPTT). On entry dhs holds ∂E/∂h_t from above for t = 1..T; on return it holds dh̄_t. */
function backward(
  buf: RnnBuffers, p: LayerParams<Float32Array>, g: LayerParams<Float32Array>, dState0: readonly Float32Array[],
  f: Nonlinearity, k: Kernels,
): void {
  const { T, B, H, hStep, dStep } = buf;
  const timesWh = recurrentProduct(k, buf.packedWh, p.Wh, H, H, false, T, B); // · W_h, packed once for the T products
  for (let t = T; t >= 1; t--) {
    // B3  dh_t = (from above) + W_hᵀ dh̄_{t+1}   (row form dh̄_{t+1} W_h; dh̄_{T+1} = 0)
    if (t < T) timesWh(dStep[t - 1], dStep[t], B, true);
    // B4  dh̄_t = f1'(h̄_t) ⊙ dh_t, with f1' from the stored h_t
    k.activateBackward(dStep[t - 1], hStep[t], f, B * H);
  }
  // B5  dW_h += Σ_t dh̄_t h_{t−1}ᵀ   (one GEMM over all T·B rows)
  k.gemm(g.Wh, buf.dhs, buf.hPrev, H, H, T * B, true, false, true);
  // B5  db_h += Σ_t dh̄_t   (b_ih and b_hh each get the whole gradient of b_h = b_ih + b_hh)
  if (g.bih !== undefined) k.sumRows(g.bih, buf.dhs, T * B, H);
  if (g.bhh !== undefined) k.sumRows(g.bhh, buf.dhs, T * B, H);
  // B6  dh_0 = W_hᵀ dh̄_1
  timesWh(dState0[0], dStep[0], B, false);
}

/** The simple RNN's fast layer. */
export const rnnLayer: CellLayer<RnnBuffers> = { bufferFloats, createBuffers, forward, backward };
