/**
 * What the playground shows for the LSTM: its equations (L1–L9 of docs/derivation.md) and its
 * diagnostics: ‖∂E/∂a_t‖ (the gates' pre-activations) beside ‖∂E/∂c_t‖ — the cell state is the
 * path on which gradients survive, through f ⊙ only — and each gate's saturation.
 */
import { gateSaturation, gatesSaturationIntro, recurrentGradTermNorms, sequenceOverTime, stepNorms } from "../diagnostics.ts";
import type { CellDiagnostics, CellView, GateTerm } from "../types.ts";
import type { LstmBuffers } from "./layer.ts";

/** The gate blocks in row-block order, and what produced each: i, f, o are sigmoids, g a tanh. */
const GATES: readonly GateTerm[] = [
  { gate: "i", kind: "sigmoid", tex: String.raw`\text{input gate } i_t = \sigma(a_i)\ \text{(L2)}` },
  { gate: "f", kind: "sigmoid", tex: String.raw`\text{forget gate } f_t = \sigma(a_f)\ \text{(L2)}` },
  { gate: "g", kind: "tanh", tex: String.raw`\text{candidate } g_t = \tanh(a_g)\ \text{(L2)}` },
  { gate: "o", kind: "sigmoid", tex: String.raw`\text{output gate } o_t = \sigma(a_o)\ \text{(L2)}` },
];

function diagnostics(buf: LstmBuffers): CellDiagnostics {
  const { T, B, H } = buf;
  return {
    series: [
      { key: "da", label: "‖∂E/∂a_t‖ (gate pre-activations)", values: stepNorms(buf.dGates, T, B, 4 * H) },
      { key: "dc", label: "‖∂E/∂c_t‖", values: stepNorms(buf.dcs, T, B, H) },
      { key: "whTerm", label: "‖Σ_b da_t h_{t−1}ᵀ‖ (step t's term of dW_hh)", values: recurrentGradTermNorms(buf.dGates, buf.hPrev, T, B, 4 * H, H) },
    ],
    // the activations are still there only when the buffers keep them (keepActivations)
    saturation: gateSaturation(buf.gates, T * B, H, GATES),
  };
}

/** The LSTM's playground view. */
export const lstmView: CellView<LstmBuffers> = {
  name: "LSTM",
  forward: [
    ["L1", String.raw`a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh} = [a_i; a_f; a_g; a_o]`],
    ["L2", String.raw`i_t = \sigma(a_i),\ f_t = \sigma(a_f),\ g_t = \tanh(a_g),\ o_t = \sigma(a_o)`],
    ["L3", String.raw`c_t = f_t \odot c_{t-1} + i_t \odot g_t`],
    ["L4", String.raw`h_t = o_t \odot \tanh(c_t)`],
  ],
  backward: [
    ["L5", String.raw`dh_t = W_o^\top d\bar y_t + W_{hh}^\top da_{t+1}`],
    ["L6", String.raw`dc_t = dh_t \odot o_t \odot (1 - \tanh^2 c_t) + f_{t+1} \odot dc_{t+1}`],
    ["L7", String.raw`da_i = dc_t \odot g_t \odot i_t(1-i_t),\ da_f = dc_t \odot c_{t-1} \odot f_t(1-f_t),\ da_g = dc_t \odot i_t \odot (1-g_t^2),\ da_o = dh_t \odot \tanh(c_t) \odot o_t(1-o_t)`],
    ["L8", String.raw`dW_{ih} \mathrel{+}= da_t\, x_t^\top,\quad dW_{hh} \mathrel{+}= da_t\, h_{t-1}^\top,\quad db \mathrel{+}= da_t`],
    ["L9", String.raw`dh_0 = W_{hh}^\top da_1,\quad dc_0 = f_1 \odot dc_1`],
  ],
  gradient: {
    tags: ["L5", "L6", "L7"],
    intro:
      "Backward, the cell state's error $dc_t$ is this step's share plus $dc_{t+1}$ scaled only by the forget gate $f_{t+1}$ (L6): " +
      "no matrix and no $\\tanh'$ on that path, so while $f$ stays near 1 the error travels back over many steps. The gates' " +
      "errors $da_t$ (L7) are read off $dc_t$ and $dh_t$; $dh_t$ gets the later steps only through $W_{hh}^\\top da_{t+1}$ (L5).",
    series: [
      { key: "da", legend: "‖da_t‖", tex: String.raw`\lVert da_t \rVert\ \text{of L7: the four gates' } \partial E/\partial a_t \text{ over the batch}` },
      { key: "dc", legend: "‖dc_t‖", tex: String.raw`\lVert dc_t \rVert\ \text{of L6: the cell state's } \partial E/\partial c_t\text{, carried back by } f_{t+1} \odot` },
      {
        key: "whTerm", legend: "‖Σ_b da_t h_{t−1}ᵀ‖_F",
        tex: String.raw`\bigl\lVert \textstyle\sum_b da_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_{hh}\text{, L8)}`,
      },
    ],
  },
  saturation: { kind: "gates", intro: gatesSaturationIntro("a forget gate at 1 keeps $c_{t-1}$, at 0 wipes it"), gates: GATES },
  states: [
    { name: "h", tex: String.raw`h_t[j] = (o_t \odot \tanh c_t)[j]\ \text{(L4)}`, unbounded: false },
    // c_t is unbounded: saturated where tanh(c_t) is (L4, L6: 1 − tanh² c_t ≈ 0 blocks dh_t's way into dc_t)
    { name: "c", tex: String.raw`c_t[j] = (f_t \odot c_{t-1} + i_t \odot g_t)[j]\ \text{(L3)}`, unbounded: true },
  ],
  diagnostics,
  stateOverTime: (buf, state, b) => sequenceOverTime(state === 1 ? buf.cs.subarray(buf.B * buf.H) : buf.hOut, buf.T, buf.B, buf.H, b),
};
