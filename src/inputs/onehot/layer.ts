/**
 * The fast one-hot input over all T·B rows at once: with x_t the one-hot vector of token k_t,
 * W_ih x_t is column k_t of W_ih, so forward is a column gather and backward a column scatter-add
 * (llm.c's encoder pair), no product at all. Layer 0's part of F1 (L1, G1) and of B5 (L8, G9),
 * docs/derivation.md.
 *
 * Shapes: ids (T·B) in [0, V), time-major; W_ih (G·H, V); xProj and dxProj (T·B, G·H).
 */
import type { Kernels } from "../../kernels/types.ts";
import type { ModelConfig } from "../../model/config.ts";
import type { InputLayer } from "../types.ts";

/** F1 (L1, G1)  W_ih x_t for one-hot x_t: column x_t of W_ih, for all rows. */
function forward(xProj: Float32Array, Wi: Float32Array, _own: readonly Float32Array[], ids: Int32Array, rows: number, GH: number, config: ModelConfig, k: Kernels): void {
  k.gatherColumns(xProj, Wi, ids, rows, GH, config.vocabSize);
}

/** B5 (L8, G9)  dW_ih += Σ_rows ∂E/∂(W_ih x_t) x_tᵀ: added into column x_t. */
function backward(
  dWi: Float32Array, _gOwn: readonly Float32Array[], dxProj: Float32Array, _Wi: Float32Array, _own: readonly Float32Array[],
  ids: Int32Array, rows: number, GH: number, config: ModelConfig, k: Kernels,
): void {
  k.scatterAddColumns(dWi, dxProj, ids, rows, GH, config.vocabSize);
}

/** The one-hot input's fast layer. */
export const onehotLayer: InputLayer<Int32Array> = { forward, backward };
