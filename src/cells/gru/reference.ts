/**
 * The float64 reference step of the GRU (PyTorch's nn.GRU; G1–G4 forward, G5–G10 backward of
 * docs/derivation.md) for one sequence at one time step, in plain loops, one equation a line.
 * Rows of W_ih, W_hh, b_ih, b_hh come in three blocks of H: r, z, n (PyTorch's order), so gate
 * q's unit j is row q·H + j. The recurrent part a^h is kept apart from the input part a^x, since
 * r multiplies only a^h_n (G3). This shares no code with the fast layer.
 *
 *   G1  a^x_t = W_ih x_t + b_ih;  a^h_t = W_hh h_{t−1} + b_hh
 *   G2  r = σ(a^x_r + a^h_r);  z = σ(a^x_z + a^h_z)
 *   G3  n = tanh(a^x_n + r ⊙ a^h_n)
 *   G4  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 *   G6  dn = dh_t ⊙ (1 − z);  dz = dh_t ⊙ (h_{t−1} − n)
 *   G7  da^x_n = dn ⊙ (1 − n²);  da^h_n = da^x_n ⊙ r;  dr = da^x_n ⊙ a^h_n
 *   G8  da^x_r = da^h_r = dr ⊙ r(1 − r);  da^x_z = da^h_z = dz ⊙ z(1 − z)
 *   G9  dW_hh += da^h_t h_{t−1}ᵀ;  db_ih += da^x_t;  db_hh += da^h_t;  ∂E/∂(W_ih x_t) = da^x_t
 *   G5, G10  into step t−1: W_hhᵀ da^h_t + z ⊙ dh_t
 */
import type { LayerParams, Nonlinearity, ReferenceCell, ReferenceStep } from "../types.ts";

/** What one step keeps for backward. */
export interface GruStep extends ReferenceStep {
  /** The gate activations [r, z, n], 3H. */
  readonly gates: Float64Array;
  /** a^h_t = W_hh h_{t−1} + b_hh, 3H (its n block is needed for dr). */
  readonly ah: Float64Array;
}

function forward(p: LayerParams<Float64Array>, H: number, _f: Nonlinearity, xProj: Float64Array, prev: readonly Float64Array[]): GruStep {
  const hPrev = prev[0];
  const ax = new Float64Array(3 * H);
  const ah = new Float64Array(3 * H);
  for (let r = 0; r < 3 * H; r++) {
    // G1  a^x_t = W_ih x_t + b_ih
    ax[r] = xProj[r] + (p.bih !== undefined ? p.bih[r] : 0);
    // G1  a^h_t = W_hh h_{t−1} + b_hh
    let s = p.bhh !== undefined ? p.bhh[r] : 0;
    for (let j = 0; j < H; j++) s += p.Wh[r * H + j] * hPrev[j];
    ah[r] = s;
  }
  const gates = new Float64Array(3 * H);
  const h = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    // G2  r = σ(a^x_r + a^h_r);  z = σ(a^x_z + a^h_z)
    const r = sigmoid(ax[j] + ah[j]);
    const z = sigmoid(ax[H + j] + ah[H + j]);
    // G3  n = tanh(a^x_n + r ⊙ a^h_n)
    const n = Math.tanh(ax[2 * H + j] + r * ah[2 * H + j]);
    gates[j] = r;
    gates[H + j] = z;
    gates[2 * H + j] = n;
    // G4  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
    h[j] = (1 - z) * n + z * hPrev[j];
  }
  return { state: [h], gates, ah };
}

function backward(
  p: LayerParams<Float64Array>, grads: LayerParams<Float64Array>, H: number, _f: Nonlinearity,
  step: GruStep, prev: readonly Float64Array[], dState: readonly Float64Array[],
): { dxProj: Float64Array; dPrev: Float64Array[] } {
  const hPrev = prev[0];
  const dh = dState[0];
  const { gates, ah } = step;
  const dax = new Float64Array(3 * H);
  const dah = new Float64Array(3 * H);
  const dhPrev = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const r = gates[j], z = gates[H + j], n = gates[2 * H + j];
    // G6  dn = dh ⊙ (1 − z);  dz = dh ⊙ (h_{t−1} − n)
    const dn = dh[j] * (1 - z);
    const dz = dh[j] * (hPrev[j] - n);
    // G7  da^x_n = dn ⊙ (1 − n²);  da^h_n = da^x_n ⊙ r;  dr = da^x_n ⊙ a^h_n
    dax[2 * H + j] = dn * (1 - n * n);
    dah[2 * H + j] = dax[2 * H + j] * r;
    const dr = dax[2 * H + j] * ah[2 * H + j];
    // G8  da^x_r = da^h_r = dr ⊙ r(1 − r);  da^x_z = da^h_z = dz ⊙ z(1 − z)
    dax[j] = dah[j] = dr * r * (1 - r);
    dax[H + j] = dah[H + j] = dz * z * (1 - z);
    // G5 / G10  the direct term of dh_{t−1}: z ⊙ dh_t
    dhPrev[j] = z * dh[j];
  }
  // G9  dW_hh += da^h_t h_{t−1}ᵀ
  for (let r = 0; r < 3 * H; r++) {
    for (let j = 0; j < H; j++) grads.Wh[r * H + j] += dah[r] * hPrev[j];
  }
  // G9  db_ih += da^x_t ;  db_hh += da^h_t   (they differ: r multiplies b_hn but not b_in)
  if (grads.bih !== undefined && grads.bhh !== undefined) {
    for (let r = 0; r < 3 * H; r++) {
      grads.bih[r] += dax[r];
      grads.bhh[r] += dah[r];
    }
  }
  // G5 / G10  the recurrent term of dh_{t−1}: += W_hhᵀ da^h_t
  for (let j = 0; j < H; j++) {
    let s = 0;
    for (let r = 0; r < 3 * H; r++) s += p.Wh[r * H + j] * dah[r];
    dhPrev[j] += s;
  }
  // G9  ∂E/∂(W_ih x_t) = da^x_t (the model turns it into dW_ih += da^x_t x_tᵀ)
  return { dxProj: dax, dPrev: [dhPrev] };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The GRU's float64 reference step. */
export const gruReference: ReferenceCell<GruStep> = {
  forward, backward,
  // h is the only state: its gradient is already the total
  totalStateGradients: (_step, dState) => dState,
};
