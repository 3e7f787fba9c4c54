/**
 * The fast layer of the GRU (PyTorch's nn.GRU) over a batch of B sequences and T steps:
 * G1–G4 forward, G5–G10 backward (docs/derivation.md). The model writes W_ih x_t for all steps
 * into `gates`; per step there is one (B×H)·(H×3H) GEMM for a^h_t = W_hh h_{t−1} + b_hh, kept
 * apart from a^x_t because r multiplies only its n block (G3), and one fused pass over the gates
 * (gruCellForward); backward one GEMM for W_hhᵀ da^h_{t+1} and one fused pass (gruCellBackward);
 * dW_hh is one GEMM over all T·B rows.
 *
 * Shapes (time-major; a row of `gates` and of `hProj` is [r | z | n], H values each, PyTorch's order):
 *   hs     (T+1, B, H)   slot 0 = h_0, slot t = h_t
 *   gates  (T·B, 3H)     W_ih x_t (+ b_ih) goes in: a^x_t; after forward the activations [r, z, n]
 *   hProj  (T·B, 3H)     a^h_t = W_hh h_{t−1} + b_hh
 *   dx     (T·B, 3H)     after backward da^x_t, which is ∂E/∂(W_ih x_t): the same array as `gates`
 *   dhProj (T·B, 3H)     after backward da^h_t: the same array as `hProj`
 *                        (both separate when the buffers keep the activations, for diagnostics)
 *   dhs    (T, B, H)     ∂E/∂h_t from above goes in; backward adds the recurrent terms in place (G5)
 *   direct (B, H)        scratch: z_t ⊙ dh_t, G5's path into h_{t−1} without a weight matrix
 * The per-step products by W_hh read it packed once per pass (`recurrentProduct`, src/cells/buffers.ts;
 * `packedWh`: W_hhᵀ's panels in forward, W_hh's in backward, none when T = 1 or B < 4).
 * Memory: (T+1)·B·H + 6T·B·H + T·B·H + B·H floats (+ 6T·B·H when keeping activations) + 3H·H rounded
 * up to whole panels (T ≥ 2, B ≥ 4).
 */
import type { Kernels } from "../../kernels/types.ts";
import { alignFloats, packedRecurrentFloats, recurrentProduct, stepViews } from "../buffers.ts";
import type { CellBufferOptions, CellBuffers, CellLayer, LayerParams, Nonlinearity } from "../types.ts";

/** Gate blocks per row: r, z, n. */
const G = 3;

/** One GRU layer's activations and gradient buffers for one (T, B) shape, with per-step views. */
export interface GruBuffers extends CellBuffers {
  readonly hs: Float32Array;
  readonly gates: Float32Array;
  readonly hProj: Float32Array;
  readonly dx: Float32Array;
  readonly dhProj: Float32Array;
  readonly dhs: Float32Array;
  readonly direct: Float32Array;
  /** hs slots 0..T−1, (T·B, H): h_{t−1} for every row */
  readonly hPrev: Float32Array;
  /** Per-step (B, ·) views: hStep[t] for t = 0..T; the others [t−1] for step t. */
  readonly hStep: readonly Float32Array[];
  readonly gateStep: readonly Float32Array[];
  readonly hProjStep: readonly Float32Array[];
  readonly dxStep: readonly Float32Array[];
  readonly dhProjStep: readonly Float32Array[];
  readonly dhStep: readonly Float32Array[];
}

/** Offsets of the arrays in one layer's block, each 64-byte aligned. */
function layout(T: number, B: number, H: number, options: CellBufferOptions = {}) {
  const keep = options.keepActivations === true;
  const wide = alignFloats(T * B * G * H);
  const hs = 0;
  const dhs = alignFloats((T + 1) * B * H);
  const direct = dhs + alignFloats(T * B * H);
  const gates = direct + alignFloats(B * H);
  const hProj = gates + wide;
  const dx = keep ? hProj + wide : gates;
  const dhProj = keep ? dx + wide : hProj;
  const packed = (keep ? dhProj : hProj) + wide;
  return { hs, dhs, direct, gates, hProj, dx, dhProj, packed, end: packed + packedRecurrentFloats(T, B, G, H) };
}

function bufferFloats(T: number, B: number, H: number, options?: CellBufferOptions): number {
  return layout(T, B, H, options).end;
}

function createBuffers(T: number, B: number, H: number, memory: Float32Array, options?: CellBufferOptions): GruBuffers {
  const at = layout(T, B, H, options);
  const n = B * H;
  const view = (from: number, length: number): Float32Array => memory.subarray(from, from + length);
  const hs = view(at.hs, (T + 1) * n);
  const gates = view(at.gates, T * G * n);
  const hProj = view(at.hProj, T * G * n);
  const dx = view(at.dx, T * G * n);
  const dhProj = view(at.dhProj, T * G * n);
  const dhs = view(at.dhs, T * n);
  const hStep = stepViews(hs, T + 1, n);
  return {
    T, B, H, hs, gates, hProj, dx, dhProj, dhs, direct: view(at.direct, n), hPrev: hs.subarray(0, T * n),
    hStep, gateStep: stepViews(gates, T, G * n), hProjStep: stepViews(hProj, T, G * n), dxStep: stepViews(dx, T, G * n),
    dhProjStep: stepViews(dhProj, T, G * n), dhStep: stepViews(dhs, T, n),
    xProj: gates, hOut: hs.subarray(n), dhOut: dhs, dxProj: dx, state0: [hStep[0]], stateT: [hStep[T]],
    packedWh: view(at.packed, at.end - at.packed),
  };
}

function forward(buf: GruBuffers, p: LayerParams<Float32Array>, _f: Nonlinearity, k: Kernels): void {
  const { T, B, H, hStep, gateStep, hProjStep } = buf;
  // G1  a^x_t = W_ih x_t + b_ih, the bias for all T·B rows at once
  if (p.bih !== undefined) k.addRowVector(buf.gates, p.bih, T * B, G * H);
  // G1  a^h_t starts as b_hh in every row (then += W_hh h_{t−1} step by step)
  buf.hProj.fill(0);
  if (p.bhh !== undefined) k.addRowVector(buf.hProj, p.bhh, T * B, G * H);
  const timesWhT = recurrentProduct(k, buf.packedWh, p.Wh, G * H, H, true, T, B); // · W_hhᵀ, W_hh packed once for the T steps
  for (let t = 1; t <= T; t++) {
    // G1  a^h_t += W_hh h_{t−1}   (row form h_{t−1} W_hhᵀ, (B, H)·(H, 3H))
    timesWhT(hProjStep[t - 1], hStep[t - 1], B, true);
    // G2–G4  r, z = σ(a^x + a^h);  n = tanh(a^x_n + r ⊙ a^h_n);  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
    k.gruCellForward(gateStep[t - 1], hProjStep[t - 1], hStep[t], hStep[t - 1], B, H);
  }
}

function backward(
  buf: GruBuffers, p: LayerParams<Float32Array>, g: LayerParams<Float32Array>, dState0: readonly Float32Array[],
  _f: Nonlinearity, k: Kernels,
): void {
  const { T, B, H, hStep, gateStep, hProjStep, dxStep, dhProjStep, dhStep } = buf;
  const timesWh = recurrentProduct(k, buf.packedWh, p.Wh, H, G * H, false, T, B); // · W_hh, packed once for the T products
  for (let t = T; t >= 1; t--) {
    // G6–G8  da^x_t, da^h_t from the total dh_t (in dhs: from above, plus step t+1's terms added below);
    //        and G5's direct term z_t ⊙ dh_t, into h_{t−1}'s gradient (dh_0 at t = 1: G10)
    const dhPrev = t > 1 ? dhStep[t - 2] : dState0[0];
    const direct = t > 1 ? buf.direct : dState0[0];
    k.gruCellBackward(dxStep[t - 1], dhProjStep[t - 1], direct, dhStep[t - 1], gateStep[t - 1], hProjStep[t - 1], hStep[t - 1], B, H);
    // G5 / G10  dh_{t−1} += z_t ⊙ dh_t (above dh_0, which the kernel wrote itself)
    if (t > 1) k.addRowVector(dhPrev, direct, 1, B * H);
    // G5 / G10  dh_{t−1} += W_hhᵀ da^h_t   (row form da^h_t W_hh, (B, 3H)·(3H, H))
    timesWh(dhPrev, dhProjStep[t - 1], B, true);
  }
  // G9  dW_hh += Σ_t da^h_t h_{t−1}ᵀ   (one GEMM over all T·B rows)
  k.gemm(g.Wh, buf.dhProj, buf.hPrev, G * H, H, T * B, true, false, true);
  // G9  db_ih += Σ_t da^x_t ;  db_hh += Σ_t da^h_t
  if (g.bih !== undefined) k.sumRows(g.bih, buf.dx, T * B, G * H);
  if (g.bhh !== undefined) k.sumRows(g.bhh, buf.dhProj, T * B, G * H);
}

/** The GRU's fast layer. */
export const gruLayer: CellLayer<GruBuffers> = { bufferFloats, createBuffers, forward, backward };
