/**
 * What the playground shows for the simple RNN: its equations (F1–F2, B3–B6 of docs/derivation.md;
 * the output layer's F3–F5, B1–B2 are the model's) and its diagnostics, read from the layer's buffers.
 */
import { isSaturated, recurrentGradTermNorms, sequenceOverTime, stepNorms } from "../diagnostics.ts";
import type { CellDiagnostics, CellView, Nonlinearity } from "../types.ts";
import type { RnnBuffers } from "./layer.ts";

function diagnostics(buf: RnnBuffers, f: Nonlinearity): CellDiagnostics {
  const { T, B, H } = buf;
  let saturated = 0;
  for (let i = 0; i < T * B * H; i++) if (isSaturated(buf.hOut[i], f)) saturated++;
  const share = T * B * H === 0 ? 0 : saturated / (T * B * H);
  return {
    series: [
      // after backward, dhs holds dh̄_t (B4)
      { key: "dhBar", label: "‖∂E/∂h̄_t‖", values: stepNorms(buf.dhs, T, B, H) },
      { key: "whTerm", label: "‖Σ_b dh̄_t h_{t−1}ᵀ‖ (step t's term of dW_h)", values: recurrentGradTermNorms(buf.dhs, buf.hPrev, T, B, H, H) },
    ],
    // f1's flat ends: one share (relu: h = 0; tanh, sigmoid: both ends together)
    saturation: [{ gate: "h", low: share, high: 0 }],
  };
}

/** The simple RNN's playground view. */
export const rnnView: CellView<RnnBuffers> = {
  forward: [
    ["F1", String.raw`\bar h_t = W_i x_t + W_h h_{t-1} + b_h`],
    ["F2", String.raw`h_t = f_1(\bar h_t)`],
  ],
  backward: [
    ["B3", String.raw`dh_t = W_o^\top d\bar y_t + W_h^\top d\bar h_{t+1},\quad d\bar h_{T+1} = 0`],
    ["B4", String.raw`d\bar h_t = f_1'(h_t) \odot dh_t`],
    ["B5", String.raw`dW_i \mathrel{+}= d\bar h_t\, x_t^\top,\quad dW_h \mathrel{+}= d\bar h_t\, h_{t-1}^\top,\quad db_h \mathrel{+}= d\bar h_t`],
    ["B6", String.raw`dh_0 = W_h^\top d\bar h_1`],
  ],
  shownStates: ["h"],
  diagnostics,
  stateOverTime: (buf, _state, b) => sequenceOverTime(buf.hOut, buf.T, buf.B, buf.H, b),
};
