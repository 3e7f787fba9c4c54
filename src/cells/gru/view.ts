/**
 * What the playground shows for the GRU: its equations (G1–G10 of docs/derivation.md) and its
 * diagnostics: ‖∂E/∂a^x_t‖ and ‖∂E/∂h_t‖ through time, and each gate's saturation.
 */
import { gateSaturation, gatesSaturationIntro, recurrentGradTermNorms, sequenceOverTime, stepNorms } from "../diagnostics.ts";
import type { CellDiagnostics, CellView, GateTerm } from "../types.ts";
import type { GruBuffers } from "./layer.ts";

/** The gate blocks in row-block order, and what produced each: r, z are sigmoids, n a tanh. */
const GATES: readonly GateTerm[] = [
  { gate: "r", kind: "sigmoid", tex: String.raw`\text{reset gate } r_t = \sigma(a^x_r + a^h_r)\ \text{(G2)}` },
  { gate: "z", kind: "sigmoid", tex: String.raw`\text{update gate } z_t = \sigma(a^x_z + a^h_z)\ \text{(G2)}` },
  { gate: "n", kind: "tanh", tex: String.raw`\text{candidate } n_t = \tanh(a^x_n + r_t \odot a^h_n)\ \text{(G3)}` },
];

function diagnostics(buf: GruBuffers): CellDiagnostics {
  const { T, B, H } = buf;
  return {
    series: [
      { key: "da", label: "‖∂E/∂a^x_t‖ (gate pre-activations)", values: stepNorms(buf.dx, T, B, 3 * H) },
      // after backward, dhs holds the total dh_t (G5)
      { key: "dh", label: "‖∂E/∂h_t‖", values: stepNorms(buf.dhs, T, B, H) },
      { key: "whTerm", label: "‖Σ_b da^h_t h_{t−1}ᵀ‖ (step t's term of dW_hh)", values: recurrentGradTermNorms(buf.dhProj, buf.hPrev, T, B, 3 * H, H) },
    ],
    // the activations are still there only when the buffers keep them (keepActivations)
    saturation: gateSaturation(buf.gates, T * B, H, GATES),
  };
}

/** The GRU's playground view. */
export const gruView: CellView<GruBuffers> = {
  name: "GRU",
  forward: [
    ["G1", String.raw`a^x_t = W_{ih} x_t + b_{ih},\quad a^h_t = W_{hh} h_{t-1} + b_{hh}`],
    ["G2", String.raw`r_t = \sigma(a^x_r + a^h_r),\quad z_t = \sigma(a^x_z + a^h_z)`],
    ["G3", String.raw`n_t = \tanh(a^x_n + r_t \odot a^h_n)`],
    ["G4", String.raw`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`],
  ],
  backward: [
    ["G5", String.raw`dh_t = W_o^\top d\bar y_t + W_{hh}^\top da^h_{t+1} + z_{t+1} \odot dh_{t+1}`],
    ["G6", String.raw`dn = dh_t \odot (1 - z_t),\quad dz = dh_t \odot (h_{t-1} - n_t)`],
    ["G7", String.raw`da^x_n = dn \odot (1 - n_t^2),\quad da^h_n = da^x_n \odot r_t,\quad dr = da^x_n \odot a^h_n`],
    ["G8", String.raw`da^x_r = da^h_r = dr \odot r_t(1-r_t),\quad da^x_z = da^h_z = dz \odot z_t(1-z_t)`],
    ["G9", String.raw`dW_{ih} \mathrel{+}= da^x_t\, x_t^\top,\quad dW_{hh} \mathrel{+}= da^h_t\, h_{t-1}^\top`],
    ["G10", String.raw`dh_0 = W_{hh}^\top da^h_1 + z_1 \odot dh_1`],
  ],
  gradient: {
    tags: ["G5", "G7", "G8"],
    intro:
      "Backward, $dh_t$ gets $dh_{t+1}$ through the update gate, $z_{t+1} \\odot dh_{t+1}$, besides the path through $W_{hh}^\\top$ (G5): " +
      "where $z$ is near 1 the error is carried back nearly unchanged. The gates' errors $da^x_t$ (G7–G8) are read off $dh_t$.",
    series: [
      { key: "da", legend: "‖da^x_t‖", tex: String.raw`\lVert da^x_t \rVert\ \text{of G7–G8: the gates' } \partial E/\partial a^x_t \text{ over the batch}` },
      { key: "dh", legend: "‖dh_t‖", tex: String.raw`\lVert dh_t \rVert\ \text{of G5: from above, through } W_{hh}^\top \text{ and through } z_{t+1} \odot` },
      {
        key: "whTerm", legend: "‖Σ_b da^h_t h_{t−1}ᵀ‖_F",
        tex: String.raw`\bigl\lVert \textstyle\sum_b da^h_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_{hh}\text{, G9)}`,
      },
    ],
  },
  saturation: { kind: "gates", intro: gatesSaturationIntro("an update gate at 1 keeps $h_{t-1}$, at 0 replaces it by $n_t$"), gates: GATES },
  states: [{ name: "h", tex: String.raw`h_t[j] = ((1 - z_t) \odot n_t + z_t \odot h_{t-1})[j]\ \text{(G4)}`, unbounded: false }],
  diagnostics,
  stateOverTime: (buf, _state, b) => sequenceOverTime(buf.hOut, buf.T, buf.B, buf.H, b),
};
