/**
 * The GRU, PyTorch's nn.GRU: three gate blocks (G = 3, order r, z, n), state h.
 */
import type { Cell } from "../types.ts";
import { gruLayer, type GruBuffers } from "./layer.ts";
import { gruReference, type GruStep } from "./reference.ts";
import { gruView } from "./view.ts";

/** The GRU cell. */
export const gruCell: Cell<GruBuffers, GruStep, "gru"> = {
  name: "gru",
  title: "GRU",
  gateNames: ["r", "z", "n"],
  stateNames: ["h"],
  stateKeys: ["train.hidden"],
  nonlinearities: ["tanh"],
  layer: gruLayer,
  reference: gruReference,
  view: gruView,
  // ONNX's GRU orders the blocks z, r, h (h: the candidate, PyTorch's n); linear_before_reset = 1 is
  // PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), the reset applied after the linear map
  onnx: { op: "GRU", gateOrder: ["z", "r", "n"], attributes: () => ({ linear_before_reset: 1 }) },
};
