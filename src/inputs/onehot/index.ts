/**
 * The one-hot input of the article (docs/derivation.md): x_t is the one-hot vector of token k_t
 * over V symbols, so in_0 = V and layer 0's W_ih is (G·H, V). No tensor of its own. A batch's
 * inputs are T·B int32 token ids in [0, V), time-major.
 */
import { checkTokenIds } from "../../model/batch-data.ts";
import type { InputUnit } from "../types.ts";
import { onehotLayer } from "./layer.ts";
import { onehotReference } from "./reference.ts";

/** The one-hot input. */
export const onehotInput: InputUnit<Int32Array, "onehot"> = {
  name: "onehot",
  title: "one-hot",
  width: (config) => config.vocabSize,
  sizes: (config) => `vocabSize ${config.vocabSize}`,
  layout: () => ({ type: "int32", per: "step", width: 1 }),
  tensors: () => [],
  paramCount: () => 0,
  tensorNames: [],
  // W_ih x_t is a column gather and its backward a column add: no product
  trainingFlopsPerToken: () => 0,
  check: (data, T, B, config) => checkTokenIds(data, "inputs", T, B, config.vocabSize),
  randomValue: (config, rng) => rng.int(config.vocabSize),
  layer: onehotLayer,
  reference: onehotReference,
  onnx: {
    // tokens [batch, seq] → time-major [seq, batch] → OneHot over V: x_t of F1
    build(g, config, _own, x) {
      g.node("Transpose", ["tokens"], ["tokens_tb"], { perm: [1, 0] });
      const depth = g.int64s("onehot_depth", [config.vocabSize], []);
      const values = g.floats("onehot_values", [2], new Float32Array([0, 1]));
      g.node("OneHot", ["tokens_tb", depth, values], [x], { axis: -1 });
      return [{ name: "tokens", type: "int64", dims: ["batch", "seq"] }];
    },
    doc: "tokens [batch, seq]",
  },
};
