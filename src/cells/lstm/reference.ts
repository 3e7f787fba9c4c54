/**
 * The float64 reference step of the LSTM (PyTorch's nn.LSTM; L1–L4 forward, L5–L9 backward of
 * docs/derivation.md) for one sequence at one time step, in plain loops, one equation a line.
 * Rows of W_ih, W_hh, b_ih, b_hh come in four blocks of H: i, f, g, o (PyTorch's order), so gate
 * q's unit j is row q·H + j. The model (src/reference/lm.ts) gives W_ih x_t and the carried (h, c);
 * this shares no code with the fast layer.
 *
 *   L1  a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh
 *   L2  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
 *   L3  c_t = f ⊙ c_{t−1} + i ⊙ g
 *   L4  h_t = o ⊙ tanh(c_t)
 *   L6  dc_t = dh_t ⊙ o ⊙ (1 − tanh² c_t) + f_{t+1} ⊙ dc_{t+1}    (dState carries the second term in)
 *   L7  da_i = dc_t ⊙ g ⊙ i(1−i);  da_f = dc_t ⊙ c_{t−1} ⊙ f(1−f);  da_g = dc_t ⊙ i ⊙ (1−g²);  da_o = dh_t ⊙ tanh(c_t) ⊙ o(1−o)
 *   L8  dW_hh += da_t h_{t−1}ᵀ;  db_ih += da_t;  db_hh += da_t;  ∂E/∂(W_ih x_t) = da_t
 *   L5, L9  into step t−1: W_hhᵀ da_t (the recurrent term of dh_{t−1}) and f ⊙ dc_t (the carry of dc_{t−1})
 */
import type { LayerParams, Nonlinearity, ReferenceCell, ReferenceStep } from "../types.ts";

/** What one step keeps for backward. */
export interface LstmStep extends ReferenceStep {
  /** The gate activations [i, f, g, o], 4H. */
  readonly gates: Float64Array;
  /** tanh(c_t), H. */
  readonly tanhC: Float64Array;
}

function forward(p: LayerParams<Float64Array>, H: number, _f: Nonlinearity, xProj: Float64Array, prev: readonly Float64Array[]): LstmStep {
  const [hPrev, cPrev] = prev;
  const a = new Float64Array(4 * H);
  for (let r = 0; r < 4 * H; r++) {
    // L1  a_t[r] = (W_ih x_t)[r] + b_ih[r] + (W_hh h_{t−1})[r] + b_hh[r]
    let s = xProj[r];
    if (p.bih !== undefined && p.bhh !== undefined) s += p.bih[r] + p.bhh[r];
    for (let j = 0; j < H; j++) s += p.Wh[r * H + j] * hPrev[j];
    a[r] = s;
  }
  const gates = new Float64Array(4 * H);
  const c = new Float64Array(H);
  const tanhC = new Float64Array(H);
  const h = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    // L2  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
    const i = sigmoid(a[j]), f = sigmoid(a[H + j]), g = Math.tanh(a[2 * H + j]), o = sigmoid(a[3 * H + j]);
    gates[j] = i;
    gates[H + j] = f;
    gates[2 * H + j] = g;
    gates[3 * H + j] = o;
    // L3  c_t = f ⊙ c_{t−1} + i ⊙ g
    c[j] = f * cPrev[j] + i * g;
    // L4  h_t = o ⊙ tanh(c_t)
    tanhC[j] = Math.tanh(c[j]);
    h[j] = o * tanhC[j];
  }
  return { state: [h, c], gates, tanhC };
}

function backward(
  p: LayerParams<Float64Array>, grads: LayerParams<Float64Array>, H: number, _f: Nonlinearity,
  step: LstmStep, prev: readonly Float64Array[], dState: readonly Float64Array[],
): { dxProj: Float64Array; dPrev: Float64Array[] } {
  const [hPrev, cPrev] = prev;
  const [dh, dcTotal] = totalStateGradients(step, dState); // L6: dc_t in total
  const { gates, tanhC } = step;
  const da = new Float64Array(4 * H);
  const dcPrev = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
    const dc = dcTotal[j];
    // L7  da_i = dc ⊙ g ⊙ i(1−i);  da_f = dc ⊙ c_{t−1} ⊙ f(1−f);  da_g = dc ⊙ i ⊙ (1−g²);  da_o = dh ⊙ tanh(c_t) ⊙ o(1−o)
    da[j] = dc * g * i * (1 - i);
    da[H + j] = dc * cPrev[j] * f * (1 - f);
    da[2 * H + j] = dc * i * (1 - g * g);
    da[3 * H + j] = dh[j] * tanhC[j] * o * (1 - o);
    // L6 / L9  the carry into step t−1: f ⊙ dc_t
    dcPrev[j] = f * dc;
  }
  // L8  dW_hh += da_t h_{t−1}ᵀ
  for (let r = 0; r < 4 * H; r++) {
    for (let j = 0; j < H; j++) grads.Wh[r * H + j] += da[r] * hPrev[j];
  }
  // L8  db_ih += da_t ;  db_hh += da_t
  if (grads.bih !== undefined && grads.bhh !== undefined) {
    for (let r = 0; r < 4 * H; r++) {
      grads.bih[r] += da[r];
      grads.bhh[r] += da[r];
    }
  }
  // L5 / L9  the recurrent term of dh_{t−1}: W_hhᵀ da_t
  const dhPrev = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let s = 0;
    for (let r = 0; r < 4 * H; r++) s += p.Wh[r * H + j] * da[r];
    dhPrev[j] = s;
  }
  // L8  ∂E/∂(W_ih x_t) = da_t (the model turns it into dW_ih += da_t x_tᵀ)
  return { dxProj: da, dPrev: [dhPrev, dcPrev] };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** dc_t in total (L6): what step t+1 sent back, and the path through h_t = o_t ⊙ tanh c_t. */
function totalStateGradients(step: LstmStep, dState: readonly Float64Array[]): readonly Float64Array[] {
  const [dh, dcCarry] = dState;
  const H = dh.length;
  const { gates, tanhC } = step;
  const dc = new Float64Array(H);
  // L6  dc_t = dh_t ⊙ o ⊙ (1 − tanh² c_t) + f_{t+1} ⊙ dc_{t+1}
  for (let j = 0; j < H; j++) dc[j] = dh[j] * gates[3 * H + j] * (1 - tanhC[j] * tanhC[j]) + dcCarry[j];
  return [dh, dc];
}

/** The LSTM's float64 reference step. */
export const lstmReference: ReferenceCell<LstmStep> = { forward, backward, totalStateGradients };
