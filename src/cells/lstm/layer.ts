/**
 * The fast layer of the LSTM (PyTorch's nn.LSTM) over a batch of B sequences and T steps:
 * L1–L4 forward, L5–L9 backward (docs/derivation.md). As for the simple RNN, the model writes the
 * input projection W_ih x_t for all steps into `gates`; per step there is one (B×H)·(H×4H) GEMM for
 * W_hh h_{t−1} and one fused pass over the gates (lstmCellForward), and backward one GEMM for
 * W_hhᵀ da_{t+1} and one fused pass (lstmCellBackward); dW_hh is one GEMM over all T·B rows.
 *
 * Shapes (time-major; a row of `gates` is [i | f | g | o], H values each, PyTorch's order):
 *   hs     (T+1, B, H)   slot 0 = h_0, slot t = h_t
 *   cs     (T+1, B, H)   slot 0 = c_0, slot t = c_t
 *   gates  (T·B, 4H)     W_ih x_t (+ biases + W_hh h_{t−1}) goes in: the pre-activations a_t;
 *                        after forward the activations [i, f, g, o]
 *   dGates (T·B, 4H)     after backward da_t = ∂E/∂a_t, which is also ∂E/∂(W_ih x_t). The same array as
 *                        `gates` (backward overwrites step t's activations once it has used them), or a
 *                        separate one when the buffers keep the activations (diagnostics)
 *   dhs    (T, B, H)     ∂E/∂h_t from above goes in; backward adds W_hhᵀ da_{t+1} in place (L5)
 *   dcs    (T, B, H)     after backward slot t−1 = dc_t, the total ∂E/∂c_t of L6
 *   packedWh              room for W_hh packed once per pass (`recurrentProduct`, src/cells/buffers.ts):
 *                        W_hhᵀ's panels in forward, W_hh's in backward (none when T = 1 or B < 4)
 * Memory: (2(T+1) + 2T)·B·H + 4T·B·H floats (+ 4T·B·H when keeping activations) + 4H·H rounded up to
 * whole panels (T ≥ 2, B ≥ 4).
 */
import type { Kernels } from "../../kernels/types.ts";
import { alignFloats, packedRecurrentFloats, recurrentProduct, stepViews } from "../buffers.ts";
import type { CellBufferOptions, CellBuffers, CellLayer, LayerParams, Nonlinearity } from "../types.ts";

/** Gate blocks per row: i, f, g, o. */
const G = 4;

/** One LSTM layer's activations and gradient buffers for one (T, B) shape, with per-step views. */
export interface LstmBuffers extends CellBuffers {
  readonly hs: Float32Array;
  readonly cs: Float32Array;
  readonly gates: Float32Array;
  readonly dGates: Float32Array;
  readonly dhs: Float32Array;
  readonly dcs: Float32Array;
  /** hs slots 0..T−1, (T·B, H): h_{t−1} for every row */
  readonly hPrev: Float32Array;
  /** Per-step (B, ·) views: hStep[t], cStep[t] for t = 0..T; gateStep, dGateStep, dhStep, dcStep[t−1] for step t. */
  readonly hStep: readonly Float32Array[];
  readonly cStep: readonly Float32Array[];
  readonly gateStep: readonly Float32Array[];
  readonly dGateStep: readonly Float32Array[];
  readonly dhStep: readonly Float32Array[];
  readonly dcStep: readonly Float32Array[];
}

/** Offsets of the arrays in one layer's block, each 64-byte aligned. */
function layout(T: number, B: number, H: number, options: CellBufferOptions = {}) {
  const state = alignFloats((T + 1) * B * H);
  const steps = alignFloats(T * B * H);
  const gates = alignFloats(T * B * G * H);
  const hs = 0, cs = state, dhs = 2 * state, dcs = dhs + steps, gatesAt = dcs + steps;
  const dGatesAt = options.keepActivations === true ? gatesAt + gates : gatesAt;
  const packed = dGatesAt + gates;
  return { hs, cs, dhs, dcs, gates: gatesAt, dGates: dGatesAt, packed, end: packed + packedRecurrentFloats(T, B, G, H) };
}

function bufferFloats(T: number, B: number, H: number, options?: CellBufferOptions): number {
  return layout(T, B, H, options).end;
}

function createBuffers(T: number, B: number, H: number, memory: Float32Array, options?: CellBufferOptions): LstmBuffers {
  const at = layout(T, B, H, options);
  const n = B * H;
  const view = (from: number, length: number): Float32Array => memory.subarray(from, from + length);
  const hs = view(at.hs, (T + 1) * n);
  const cs = view(at.cs, (T + 1) * n);
  const gates = view(at.gates, T * G * n);
  const dGates = view(at.dGates, T * G * n);
  const dhs = view(at.dhs, T * n);
  const dcs = view(at.dcs, T * n);
  const hStep = stepViews(hs, T + 1, n);
  const cStep = stepViews(cs, T + 1, n);
  return {
    T, B, H, hs, cs, gates, dGates, dhs, dcs, hPrev: hs.subarray(0, T * n),
    hStep, cStep, gateStep: stepViews(gates, T, G * n), dGateStep: stepViews(dGates, T, G * n), dhStep: stepViews(dhs, T, n), dcStep: stepViews(dcs, T, n),
    xProj: gates, hOut: hs.subarray(n), dhOut: dhs, dxProj: dGates,
    state0: [hStep[0], cStep[0]], stateT: [hStep[T], cStep[T]], packedWh: view(at.packed, at.end - at.packed),
  };
}

function forward(buf: LstmBuffers, p: LayerParams<Float32Array>, _f: Nonlinearity, k: Kernels): void {
  const { T, B, H, hStep, cStep, gateStep } = buf;
  // L1  a_t = W_ih x_t + b_ih + b_hh + …, the biases for all T·B rows at once
  if (p.bih !== undefined) k.addRowVector(buf.gates, p.bih, T * B, G * H);
  if (p.bhh !== undefined) k.addRowVector(buf.gates, p.bhh, T * B, G * H);
  const timesWhT = recurrentProduct(k, buf.packedWh, p.Wh, G * H, H, true, T, B); // · W_hhᵀ, W_hh packed once for the T steps
  for (let t = 1; t <= T; t++) {
    // L1  a_t += W_hh h_{t−1}   (row form h_{t−1} W_hhᵀ, (B, H)·(H, 4H))
    timesWhT(gateStep[t - 1], hStep[t - 1], B, true);
    // L2–L4  [i, f, g, o] = [σ, σ, tanh, σ](a_t);  c_t = f ⊙ c_{t−1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)
    k.lstmCellForward(gateStep[t - 1], cStep[t], hStep[t], cStep[t - 1], B, H);
  }
}

function backward(
  buf: LstmBuffers, p: LayerParams<Float32Array>, g: LayerParams<Float32Array>, dState0: readonly Float32Array[],
  _f: Nonlinearity, k: Kernels,
): void {
  const { T, B, H, cStep, gateStep, dGateStep, dhStep, dcStep } = buf;
  dcStep[T - 1].fill(0); // the carry into step T: dc_{T+1} = 0
  const timesWh = recurrentProduct(k, buf.packedWh, p.Wh, H, G * H, false, T, B); // · W_hh, packed once for the T products
  for (let t = T; t >= 1; t--) {
    // L5  dh_t = (from above) + W_hhᵀ da_{t+1}   (row form da_{t+1} W_hh, (B, 4H)·(4H, H); da_{T+1} = 0)
    if (t < T) timesWh(dhStep[t - 1], dGateStep[t], B, true);
    // L6–L7  dc_t = dh_t ⊙ o ⊙ (1 − tanh² c_t) + (carry f_{t+1} ⊙ dc_{t+1});  da_t;  and the carry f_t ⊙ dc_t
    //        into step t−1 (L9: dc_0 at t = 1)
    const carry = t > 1 ? dcStep[t - 2] : dState0[1];
    k.lstmCellBackward(dGateStep[t - 1], carry, dcStep[t - 1], dhStep[t - 1], gateStep[t - 1], cStep[t], cStep[t - 1], B, H);
  }
  // L8  dW_hh += Σ_t da_t h_{t−1}ᵀ   (one GEMM over all T·B rows)
  k.gemm(g.Wh, buf.dGates, buf.hPrev, G * H, H, T * B, true, false, true);
  // L8  db_ih += Σ_t da_t ;  db_hh += Σ_t da_t
  if (g.bih !== undefined) k.sumRows(g.bih, buf.dGates, T * B, G * H);
  if (g.bhh !== undefined) k.sumRows(g.bhh, buf.dGates, T * B, G * H);
  // L9  dh_0 = W_hhᵀ da_1
  timesWh(dState0[0], dGateStep[0], B, false);
}

/** The LSTM's fast layer. */
export const lstmLayer: CellLayer<LstmBuffers> = { bufferFloats, createBuffers, forward, backward };
