/**
 * What the playground shows for the simple RNN: its equations (F1–F2, B3–B6 of docs/derivation.md;
 * the output layer's F3–F5, B1–B2 are the model's) and its diagnostics, read from the layer's buffers.
 */
import { isSaturated, recurrentGradTermNorms, SATURATION_THRESHOLD, sequenceOverTime, stepNorms } from "../diagnostics.ts";
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
  name: "simple RNN",
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
  gradient: {
    tags: ["B3", "B4", "B5"],
    intro:
      "Backward, the error at step $t$ is the output's own error plus what flows back from step $t+1$ through $W_h^\\top$ and " +
      "$f_1'$ (B3, B4): over many steps that part shrinks or grows geometrically — the vanishing and exploding gradients of BPTT.",
    series: [
      { key: "dhBar", legend: "‖dh̄_t‖", tex: String.raw`\lVert d\bar h_t \rVert = \lVert \partial E/\partial \bar h_t \rVert_F \ \text{over the batch (B4)}` },
      {
        key: "whTerm", legend: "‖Σ_b dh̄_t h_{t−1}ᵀ‖_F",
        tex: String.raw`\bigl\lVert \textstyle\sum_b d\bar h_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_h\text{, B5)}`,
      },
    ],
  },
  saturation: {
    kind: "output",
    intro: "The share of $h_t$ at the flat ends of $f_1$ over the chunk, per layer over training: there $f_1' \\approx 0$, and B4 all but stops the gradient.",
    tex: String.raw`\text{share of } |h_t| > ${SATURATION_THRESHOLD} \ \text{(tanh: } f_1' = 1 - h_t^2 < 0.1\text{, so B4 blocks } dh_t\text{)}`,
  },
  states: [{ name: "h", tex: String.raw`h_t[j] = f_1(\bar h_t)[j]\ \text{(F2)}`, unbounded: false }],
  diagnostics,
  stateOverTime: (buf, _state, b) => sequenceOverTime(buf.hOut, buf.T, buf.B, buf.H, b),
};
