/**
 * The float64 reference of the softmax cross-entropy head, for one sequence, in plain loops with
 * one equation a line; it shares no code with the fast layer (layer.ts). For t = 1..T, with h_t
 * the top layer's output (after dropout, D1) and k_t the target:
 *
 *   F3  ȳ_t = W_o h_t + b_o        W_o (V, H) = fc.weight, b_o (V) = fc.bias
 *   F4  y_t = softmax(ȳ_t)         with max-subtraction
 *   F5  e_t = −log y_t[k_t]        E = Σ_t e_t
 *   B1  dȳ_t = y_t − onehot(k_t)
 *   B2  dW_o += dȳ_t h_tᵀ ;  db_o += dȳ_t
 *   B3  dh_t (from the head) = W_oᵀ dȳ_t
 */
import type { ModelConfig } from "../../model/config.ts";
import type { ReferenceHead, ReferenceHeadPass } from "../types.ts";

/** What the forward keeps: each step's loss, and y. */
export interface SoftmaxPass extends ReferenceHeadPass {
  /** (T·V): y_t at (t−1)·V. */
  readonly y: Float64Array;
}

function forward(own: readonly Float64Array[], x: Float64Array, targets: Int32Array, b: number, T: number, B: number, config: ModelConfig): SoftmaxPass {
  const { hiddenSize: H, vocabSize: V } = config;
  const [Wo] = own;
  const bo = own.length > 1 ? own[1] : undefined;
  const y = new Float64Array(T * V);
  const losses = new Float64Array(T);
  const yBar = new Float64Array(V);
  for (let t = 1; t <= T; t++) {
    const cur = (t * B + b) * H; // h_t of sequence b in the (T+1, B, H) array
    // F3  ȳ_t = W_o h_t + b_o
    for (let v = 0; v < V; v++) {
      let s = bo !== undefined ? bo[v] : 0;
      for (let j = 0; j < H; j++) s += Wo[v * H + j] * x[cur + j];
      yBar[v] = s;
    }
    // F4  y_t = softmax(ȳ_t) = exp(ȳ_t − m) / Σ exp(ȳ_t − m), m = max ȳ_t (no overflow)
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, yBar[v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(yBar[v] - m);
    for (let v = 0; v < V; v++) y[(t - 1) * V + v] = Math.exp(yBar[v] - m) / sum;
    // F5  e_t = −log y_t[k_t] = log Σ exp(ȳ_t) − ȳ_t[k_t]  (finite even where y_t[k_t] underflows to 0)
    losses[t - 1] = m + Math.log(sum) - yBar[targets[(t - 1) * B + b]];
  }
  return { losses, y };
}

function backward(
  own: readonly Float64Array[], gOwn: readonly Float64Array[], x: Float64Array, pass: SoftmaxPass, targets: Int32Array,
  b: number, T: number, B: number, config: ModelConfig,
): Float64Array {
  const { hiddenSize: H, vocabSize: V } = config;
  const [Wo] = own;
  const [dWo] = gOwn;
  const dbo = gOwn.length > 1 ? gOwn[1] : undefined;
  const dx = new Float64Array(T * H);
  const dyBar = new Float64Array(V);
  for (let t = T; t >= 1; t--) {
    const cur = (t * B + b) * H;
    // B1  dȳ_t = y_t − onehot(k_t)
    for (let v = 0; v < V; v++) dyBar[v] = pass.y[(t - 1) * V + v];
    dyBar[targets[(t - 1) * B + b]] -= 1;
    // B2  dW_o += dȳ_t h_tᵀ ;  db_o += dȳ_t
    for (let v = 0; v < V; v++) {
      for (let j = 0; j < H; j++) dWo[v * H + j] += dyBar[v] * x[cur + j];
    }
    if (dbo !== undefined) for (let v = 0; v < V; v++) dbo[v] += dyBar[v];
    // B3  dh_t from the head = W_oᵀ dȳ_t
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let v = 0; v < V; v++) s += Wo[v * H + j] * dyBar[v];
      dx[(t - 1) * H + j] = s;
    }
  }
  return dx;
}

/** The softmax head's float64 reference. */
export const softmaxReference: ReferenceHead<Int32Array, SoftmaxPass> = { forward, backward };
