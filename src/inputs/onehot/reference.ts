/**
 * The float64 reference of the one-hot input, for one sequence at one step, in plain loops. It
 * shares no code with the fast layer (layer.ts): x_t is the one-hot vector of token k_t, so
 *
 *   F1  W_ih x_t = column k_t of W_ih                 (layer 0's part of F1, L1, G1)
 *   B5  dW_ih += ∂E/∂(W_ih x_t) x_tᵀ                  only column k_t changes (B5, L8, G9)
 */
import type { ModelConfig } from "../../model/config.ts";
import type { ReferenceInput } from "../types.ts";

function project(Wi: Float64Array, _own: readonly Float64Array[], ids: Int32Array, t: number, b: number, B: number, GH: number, config: ModelConfig): Float64Array {
  const V = config.vocabSize;
  const x = ids[(t - 1) * B + b]; // k_t, the token of sequence b at step t
  const xProj = new Float64Array(GH);
  // F1  (W_ih x_t)[r] = W_ih[r, k_t]
  for (let r = 0; r < GH; r++) xProj[r] = Wi[r * V + x];
  return xProj;
}

function backward(
  dWi: Float64Array, _gOwn: readonly Float64Array[], dxProj: Float64Array, _Wi: Float64Array, _own: readonly Float64Array[],
  ids: Int32Array, t: number, b: number, B: number, GH: number, config: ModelConfig,
): void {
  const V = config.vocabSize;
  const x = ids[(t - 1) * B + b];
  // B5  dW_ih[r, k_t] += ∂E/∂(W_ih x_t)[r]
  for (let r = 0; r < GH; r++) dWi[r * V + x] += dxProj[r];
}

/** The one-hot input's float64 reference. */
export const onehotReference: ReferenceInput<Int32Array> = { project, backward };
