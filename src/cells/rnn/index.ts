/**
 * The simple (Elman) RNN of the article: h_t = f1(W_i x_t + W_h h_{t−1} + b_h), PyTorch's nn.RNN.
 * One gate block (G = 1), state h, f1 = tanh | relu | sigmoid.
 */
import type { Cell } from "../types.ts";
import { rnnLayer, type RnnBuffers } from "./layer.ts";
import { rnnReference, type RnnStep } from "./reference.ts";
import { rnnView } from "./view.ts";

/** The simple RNN cell. */
export const rnnCell: Cell<RnnBuffers, RnnStep, "rnn"> = {
  name: "rnn",
  title: "RNN",
  gateNames: ["h"],
  stateNames: ["h"],
  stateKeys: ["train.hidden"],
  nonlinearities: ["tanh", "relu", "sigmoid"],
  layer: rnnLayer,
  reference: rnnReference,
  view: rnnView,
  onnx: {
    op: "RNN",
    gateOrder: ["h"],
    // ONNX's RNN: H_t = f(X_t W^T + H_{t−1} R^T + Wb + Rb), f named as ONNX's activation functions
    attributes: (f) => ({ activations: [{ tanh: "Tanh", relu: "Relu", sigmoid: "Sigmoid" }[f]] }),
  },
};
