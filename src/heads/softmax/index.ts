/**
 * The softmax cross-entropy head of a language model (docs/derivation.md F3–F5, B1–B3): a
 * linear layer from the top layer's H outputs to V logits, PyTorch's nn.Linear(H, V) `fc.weight`
 * [V, H] and `fc.bias` [V] (none without bias), then the softmax and the summed cross-entropy of
 * the next symbol. A batch's targets are T·B int32 token ids in [0, V), time-major.
 */
import { checkTokenIds } from "../../model/batch-data.ts";
import type { HeadUnit } from "../types.ts";
import { softmaxLayer } from "./layer.ts";
import { softmaxReference } from "./reference.ts";

/** The softmax cross-entropy head. */
export const softmaxHead: HeadUnit<Int32Array, "softmax"> = {
  name: "softmax",
  title: "softmax cross-entropy",
  sizes: (config) => `vocabSize ${config.vocabSize}`,
  layout: () => ({ type: "int32", per: "step", width: 1 }),
  tensors: ({ vocabSize: V, hiddenSize: H, bias }) => [
    { name: "fc.weight", shape: [V, H] },
    ...(bias ? [{ name: "fc.bias", shape: [V] }] : []),
  ],
  paramCount: ({ vocabSize: V, hiddenSize: H, bias }) => V * H + (bias ? V : 0),
  tensorNames: ["fc.weight", "fc.bias"],
  // F3's GEMM forward, and backward's two (dW_o and W_oᵀ dȳ): 3 · 2·V·H
  trainingFlopsPerToken: ({ vocabSize: V, hiddenSize: H }) => 6 * V * H,
  check: (targets, T, B, config) => checkTokenIds(targets, "targets", T, B, config.vocabSize),
  randomValue: (config, rng) => rng.int(config.vocabSize),
  layer: softmaxLayer,
  reference: softmaxReference,
  view: {
    name: "output layer",
    forward: [
      ["F3", String.raw`\bar y_t = W_o h_t + b_o`],
      ["F4", String.raw`y_t = \operatorname{softmax}(\bar y_t)`],
      ["F5", String.raw`E = \textstyle\sum_{b,t} -\log y_t[k_t]`],
    ],
    // what reaches the cell is W_oᵀ dȳ_t, in its dh_t
    backward: [
      ["B1", String.raw`d\bar y_t = y_t - \operatorname{onehot}(k_t)`],
      ["B2", String.raw`dW_o \mathrel{+}= d\bar y_t\, h_t^\top,\quad db_o \mathrel{+}= d\bar y_t`],
    ],
  },
  onnx: {
    // ȳ_t = W_o h_t + b_o (F3), batch-major again: [batch, seq, H] · W_oᵀ [H, V]
    build(g, config, own, h) {
      const { vocabSize: V, hiddenSize: H } = config;
      const [Wo] = own;
      g.node("Transpose", [h], ["h_bt"], { perm: [1, 0, 2] });
      const WoT = g.floats("Wo_T", [H, V], transpose(Wo, V, H));
      if (own.length > 1) {
        const bo = g.floats("bo", [V], own[1]);
        g.node("MatMul", ["h_bt", WoT], ["logits_nobias"]);
        g.node("Add", ["logits_nobias", bo], ["logits"]);
      } else {
        g.node("MatMul", ["h_bt", WoT], ["logits"]);
      }
      return [{ name: "logits", type: "float32", dims: ["batch", "seq", V] }];
    },
    model: "language model",
    doc: "logits [batch, seq, vocab] (before the softmax)",
  },
};

/** The transpose of a row-major (rows, cols) matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}
