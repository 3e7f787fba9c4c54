/**
 * The GRU, PyTorch's nn.GRU: three gate blocks (G = 3, order r, z, n), state h.
 */
import type { Cell } from "../types.ts";
import { gruLayer, type GruBuffers } from "./layer.ts";
import { gruReference, type GruStep } from "./reference.ts";
import { gruView } from "./view.ts";

/** The GRU cell. */
export const gruCell: Cell<GruBuffers, GruStep> = {
  name: "gru",
  title: "GRU",
  gateNames: ["r", "z", "n"],
  stateNames: ["h"],
  nonlinearities: ["tanh"],
  layer: gruLayer,
  reference: gruReference,
  view: gruView,
};
