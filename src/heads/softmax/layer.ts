/**
 * The fast softmax cross-entropy head over all T·B rows at once (docs/derivation.md F3–F5,
 * B1–B3): logits for every row in one GEMM, then the row softmax and the loss; backward dȳ for
 * every row, dW_o and ∂E/∂h_t as two GEMMs (src/nn/linear.ts).
 *
 * Shapes: top (T·B, H), the top layer's outputs; W_o (V, H) and b_o (V), PyTorch's fc.weight and
 * fc.bias; out (T·B, V): the logits ȳ, then the probabilities y, then (after backward) dȳ;
 * targets (T·B) token ids k_t in [0, V).
 */
import type { Kernels } from "../../kernels/types.ts";
import type { ModelConfig } from "../../model/config.ts";
import { linearBackward, linearForward } from "../../nn/linear.ts";
import type { HeadLayer } from "../types.ts";

function bufferFloats(T: number, B: number, config: ModelConfig): number {
  return T * B * config.vocabSize;
}

function forward(
  out: Float32Array, top: Float32Array, own: readonly Float32Array[], targets: Int32Array, T: number, B: number, config: ModelConfig, k: Kernels,
): number {
  const { hiddenSize: H, vocabSize: V } = config;
  const rows = T * B;
  // F3  ȳ_t = W_o h_t + b_o for all rows
  linearForward(out, top, weight(own), bias(own), rows, H, V, k);
  // F4–F5  y_t = softmax(ȳ_t), E = Σ −log y_t[k_t]
  return k.softmaxCrossEntropy(out, targets, rows, V);
}

function backward(
  dTop: Float32Array, gOwn: readonly Float32Array[], out: Float32Array, top: Float32Array, own: readonly Float32Array[],
  targets: Int32Array, scale: number, T: number, B: number, config: ModelConfig, k: Kernels,
): void {
  const { hiddenSize: H, vocabSize: V } = config;
  const rows = T * B;
  // B1  dȳ_t = y_t − onehot(k_t)
  k.softmaxCrossEntropyBackward(out, targets, rows, V, scale);
  // B2  dW_o += Σ dȳ_t h_tᵀ, db_o += Σ dȳ_t;  B3 / L5 / G5 (first term)  dh_t = W_oᵀ dȳ_t into the top layer
  linearBackward(dTop, weight(gOwn), bias(gOwn), out, top, weight(own), rows, H, V, k);
}

/** W_o among the head's tensors [fc.weight, fc.bias?]. */
function weight(own: readonly Float32Array[]): Float32Array {
  return own[0];
}

/** b_o among the head's tensors, or undefined for a model without biases. */
function bias(own: readonly Float32Array[]): Float32Array | undefined {
  return own.length > 1 ? own[1] : undefined;
}

/** The softmax head's fast layer. */
export const softmaxLayer: HeadLayer<Int32Array> = { bufferFloats, forward, backward };
