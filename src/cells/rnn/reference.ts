/**
 * The float64 reference step of the simple RNN (F1–F2 forward, B3–B6 backward of
 * docs/derivation.md) for one sequence at one time step, in plain loops, one equation a line.
 * The model (src/reference/lm.ts) gives it W_i x_t and the carried state; it shares no code with
 * the fast layer.
 *
 *   F1  h̄_t = W_i x_t + W_h h_{t−1} + b_h          b_h = b_ih + b_hh
 *   F2  h_t = f1(h̄_t)
 *   B4  dh̄_t = f1'(h_t) ⊙ dh_t                     dh_t = the total ∂E/∂h_t (B3: from above + W_hᵀ dh̄_{t+1})
 *   B5  dW_h += dh̄_t h_{t−1}ᵀ ; db_ih += dh̄_t ; db_hh += dh̄_t ; ∂E/∂(W_i x_t) = dh̄_t
 *   B3  (the recurrent term for step t−1)  W_hᵀ dh̄_t, which is B6 at t = 1
 */
import type { LayerParams, Nonlinearity, ReferenceCell, ReferenceStep } from "../types.ts";

/** What one step keeps: h_t (f1' is computed from it, so h̄_t is not kept). */
export type RnnStep = ReferenceStep;

function forward(p: LayerParams<Float64Array>, H: number, f: Nonlinearity, xProj: Float64Array, prev: readonly Float64Array[]): RnnStep {
  const hPrev = prev[0];
  const h = new Float64Array(H);
  for (let i = 0; i < H; i++) {
    // F1  h̄_t[i] = (W_i x_t)[i] + (W_h h_{t−1})[i] + b_ih[i] + b_hh[i]
    let hBar = xProj[i];
    if (p.bih !== undefined && p.bhh !== undefined) hBar += p.bih[i] + p.bhh[i];
    for (let j = 0; j < H; j++) hBar += p.Wh[i * H + j] * hPrev[j];
    // F2  h_t = f1(h̄_t)
    h[i] = f1(f, hBar);
  }
  return { state: [h] };
}

function backward(
  p: LayerParams<Float64Array>, g: LayerParams<Float64Array>, H: number, f: Nonlinearity,
  step: RnnStep, prev: readonly Float64Array[], dState: readonly Float64Array[],
): { dxProj: Float64Array; dPrev: Float64Array[] } {
  const h = step.state[0];
  const hPrev = prev[0];
  const dh = dState[0];
  const dhBar = new Float64Array(H);
  // B4  dh̄_t = f1'(h_t) ⊙ dh_t
  for (let i = 0; i < H; i++) dhBar[i] = f1Prime(f, h[i]) * dh[i];
  // B5  dW_h += dh̄_t h_{t−1}ᵀ
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < H; j++) g.Wh[i * H + j] += dhBar[i] * hPrev[j];
  }
  // B5  db_ih += dh̄_t ;  db_hh += dh̄_t   (b_h = b_ih + b_hh, so both get ∂E/∂b_h)
  if (g.bih !== undefined && g.bhh !== undefined) {
    for (let i = 0; i < H; i++) {
      g.bih[i] += dhBar[i];
      g.bhh[i] += dhBar[i];
    }
  }
  // B3 / B6  the recurrent term of ∂E/∂h_{t−1}: W_hᵀ dh̄_t
  const dhPrev = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let s = 0;
    for (let i = 0; i < H; i++) s += p.Wh[i * H + j] * dhBar[i];
    dhPrev[j] = s;
  }
  // B5  ∂E/∂(W_i x_t) = dh̄_t (the model turns it into dW_i += dh̄_t x_tᵀ)
  return { dxProj: dhBar, dPrev: [dhPrev] };
}

/** F2  f1 of one pre-activation. */
function f1(nonlinearity: Nonlinearity, hBar: number): number {
  switch (nonlinearity) {
    case "tanh":
      return Math.tanh(hBar);
    case "relu":
      return hBar > 0 ? hBar : 0;
    case "sigmoid":
      return 1 / (1 + Math.exp(-hBar));
  }
}

/** B4  f1'(h̄) written with the output h = f1(h̄), so h̄ need not be stored. */
function f1Prime(nonlinearity: Nonlinearity, h: number): number {
  switch (nonlinearity) {
    case "tanh":
      return 1 - h * h;
    case "relu":
      return h > 0 ? 1 : 0;
    case "sigmoid":
      return h * (1 - h);
  }
}

/** The simple RNN's float64 reference step. */
export const rnnReference: ReferenceCell<RnnStep> = {
  forward, backward,
  // h is the only state: its gradient is already the total
  totalStateGradients: (_step, dState) => dState,
};
