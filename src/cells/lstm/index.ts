/**
 * The LSTM, PyTorch's nn.LSTM: four gate blocks (G = 4, order i, f, g, o), state (h, c).
 */
import type { Cell } from "../types.ts";
import { lstmLayer, type LstmBuffers } from "./layer.ts";
import { lstmReference, type LstmStep } from "./reference.ts";
import { lstmView } from "./view.ts";

/** The LSTM cell. */
export const lstmCell: Cell<LstmBuffers, LstmStep, "lstm"> = {
  name: "lstm",
  title: "LSTM",
  gateNames: ["i", "f", "g", "o"],
  stateNames: ["h", "c"],
  stateKeys: ["train.hidden", "train.cell"],
  forgetGate: "f",
  nonlinearities: ["tanh"],
  layer: lstmLayer,
  reference: lstmReference,
  view: lstmView,
  // ONNX's LSTM orders the blocks i, o, f, c (c: the candidate, PyTorch's g); default activations σ, tanh, tanh
  onnx: { op: "LSTM", gateOrder: ["i", "o", "f", "g"], attributes: () => ({}) },
};
