/**
 * What the playground shows for the GRU: its equations (G1–G10 of docs/derivation.md) and its
 * diagnostics: ‖∂E/∂a^x_t‖ and ‖∂E/∂h_t‖ through time, and each gate's saturation.
 */
import { gateSaturation, recurrentGradTermNorms, sequenceOverTime, stepNorms } from "../diagnostics.ts";
import type { CellDiagnostics, CellView, Nonlinearity } from "../types.ts";
import type { GruBuffers } from "./layer.ts";

/** What produced each gate block: r, z are sigmoids, n a tanh. */
const GATE_KINDS: readonly (readonly [string, Nonlinearity])[] = [["r", "sigmoid"], ["z", "sigmoid"], ["n", "tanh"]];

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
    saturation: gateSaturation(buf.gates, T * B, H, GATE_KINDS),
  };
}

/** The GRU's playground view. */
export const gruView: CellView<GruBuffers> = {
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
  shownStates: ["h"],
  diagnostics,
  stateOverTime: (buf, _state, b) => sequenceOverTime(buf.hOut, buf.T, buf.B, buf.H, b),
};
