/**
 * The equations the page shows, in KaTeX source, as in docs/derivation.md: the model's head (F3–F5,
 * B1–B2: output layer, softmax, loss), which every cell shares, around the selected cell's own
 * equations, which come from the cell (`cell.view.forward` / `backward` in src/cells/<name>/view.ts,
 * not repeated here). And the terms each plot shows, per cell: each plot names the equation its
 * quantity comes from.
 */
import katex from "katex";
import { cellOf } from "../../src/cells/index.ts";
import { GATE_SATURATION_THRESHOLD, SATURATION_THRESHOLD } from "../../src/cells/diagnostics.ts";
import type { CellName } from "../../src/model/config.ts";

/** Tagged equations: [tag, KaTeX]. */
export type Equations = readonly (readonly [string, string])[];

/** The model's head forward: output layer, softmax, loss (on top of the last layer's h_t). */
export const HEAD_FORWARD: Equations = [
  ["F3", String.raw`\bar y_t = W_o h_t + b_o`],
  ["F4", String.raw`y_t = \operatorname{softmax}(\bar y_t)`],
  ["F5", String.raw`E = \textstyle\sum_{b,t} -\log y_t[k_t]`],
];

/** The model's head backward (dz = ∂E/∂z); what reaches the cell is W_oᵀ dȳ_t, in its dh_t. */
export const HEAD_BACKWARD: Equations = [
  ["B1", String.raw`d\bar y_t = y_t - \operatorname{onehot}(k_t)`],
  ["B2", String.raw`dW_o \mathrel{+}= d\bar y_t\, h_t^\top,\quad db_o \mathrel{+}= d\bar y_t`],
];

/**
 * The whole model's equations for a cell.
 * @param cell the recurrent cell
 * @returns forward: the cell's, then F3–F5; backward: B1–B2, then the cell's BPTT
 */
export function modelEquations(cell: CellName): { readonly forward: Equations; readonly backward: Equations } {
  const { view } = cellOf(cell);
  return { forward: [...view.forward, ...HEAD_FORWARD], backward: [...HEAD_BACKWARD, ...view.backward] };
}

/** The backward equations the gradient-flow plots show, by tag (shown above them). */
const GRADIENT_TAGS: Readonly<Record<CellName, readonly string[]>> = {
  rnn: ["B3", "B4", "B5"],
  lstm: ["L5", "L6", "L7"],
  gru: ["G5", "G7", "G8"],
};

/**
 * The backward equations behind the gradient-flow plots.
 * @param cell the recurrent cell
 * @returns the cell's equations with those tags
 */
export function gradientEquations(cell: CellName): Equations {
  return cellOf(cell).view.backward.filter(([tag]) => GRADIENT_TAGS[cell].includes(tag));
}

/** What the gradient-flow section says first, per cell (text with $KaTeX$ segments: see `renderRich`). */
export const GRADIENT_INTRO: Readonly<Record<CellName, string>> = {
  rnn:
    "Backward, the error at step $t$ is the output's own error plus what flows back from step $t+1$ through $W_h^\\top$ and " +
    "$f_1'$ (B3, B4): over many steps that part shrinks or grows geometrically — the vanishing and exploding gradients of BPTT.",
  lstm:
    "Backward, the cell state's error $dc_t$ is this step's share plus $dc_{t+1}$ scaled only by the forget gate $f_{t+1}$ (L6): " +
    "no matrix and no $\\tanh'$ on that path, so while $f$ stays near 1 the error travels back over many steps. The gates' " +
    "errors $da_t$ (L7) are read off $dc_t$ and $dh_t$; $dh_t$ gets the later steps only through $W_{hh}^\\top da_{t+1}$ (L5).",
  gru:
    "Backward, $dh_t$ gets $dh_{t+1}$ through the update gate, $z_{t+1} \\odot dh_{t+1}$, besides the path through $W_{hh}^\\top$ (G5): " +
    "where $z$ is near 1 the error is carried back nearly unchanged. The gates' errors $da^x_t$ (G7–G8) are read off $dh_t$.",
};

/** One per-step series as the page plots it: its KaTeX term and its plain-text name (legends). */
export interface SeriesTerm {
  /** The cell's series key (CellDiagnostics.series[].key). */
  readonly key: string;
  readonly tex: string;
  readonly legend: string;
}

/**
 * The per-step series of each cell's diagnostics, in the order its view reports them (the first is
 * ‖∂E/∂(pre-activations)_t‖). The keys are the views'; a series a view adds later is not plotted
 * until it gets a line here.
 */
export const SERIES_TERMS: Readonly<Record<CellName, readonly SeriesTerm[]>> = {
  rnn: [
    { key: "dhBar", legend: "‖dh̄_t‖", tex: String.raw`\lVert d\bar h_t \rVert = \lVert \partial E/\partial \bar h_t \rVert_F \ \text{over the batch (B4)}` },
    {
      key: "whTerm", legend: "‖Σ_b dh̄_t h_{t−1}ᵀ‖_F",
      tex: String.raw`\bigl\lVert \textstyle\sum_b d\bar h_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_h\text{, B5)}`,
    },
  ],
  lstm: [
    { key: "da", legend: "‖da_t‖", tex: String.raw`\lVert da_t \rVert\ \text{of L7: the four gates' } \partial E/\partial a_t \text{ over the batch}` },
    { key: "dc", legend: "‖dc_t‖", tex: String.raw`\lVert dc_t \rVert\ \text{of L6: the cell state's } \partial E/\partial c_t\text{, carried back by } f_{t+1} \odot` },
    {
      key: "whTerm", legend: "‖Σ_b da_t h_{t−1}ᵀ‖_F",
      tex: String.raw`\bigl\lVert \textstyle\sum_b da_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_{hh}\text{, L8)}`,
    },
  ],
  gru: [
    { key: "da", legend: "‖da^x_t‖", tex: String.raw`\lVert da^x_t \rVert\ \text{of G7–G8: the gates' } \partial E/\partial a^x_t \text{ over the batch}` },
    { key: "dh", legend: "‖dh_t‖", tex: String.raw`\lVert dh_t \rVert\ \text{of G5: from above, through } W_{hh}^\top \text{ and through } z_{t+1} \odot` },
    {
      key: "whTerm", legend: "‖Σ_b da^h_t h_{t−1}ᵀ‖_F",
      tex: String.raw`\bigl\lVert \textstyle\sum_b da^h_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_{hh}\text{, G9)}`,
    },
  ],
};

/** A gate as the saturation view shows it. */
export interface GateTerm {
  /** The cell's gate name (GateSaturation.gate). */
  readonly gate: string;
  /** What produced it: its two ends are 0 and 1 (σ) or −1 and 1 (tanh). */
  readonly kind: "sigmoid" | "tanh";
  readonly tex: string;
}

/** The gates of each gated cell, in the order its view reports them (the simple RNN has none: see SATURATION_TERM). */
export const GATE_TERMS: Readonly<Record<Exclude<CellName, "rnn">, readonly GateTerm[]>> = {
  lstm: [
    { gate: "i", kind: "sigmoid", tex: String.raw`\text{input gate } i_t = \sigma(a_i)\ \text{(L2)}` },
    { gate: "f", kind: "sigmoid", tex: String.raw`\text{forget gate } f_t = \sigma(a_f)\ \text{(L2)}` },
    { gate: "g", kind: "tanh", tex: String.raw`\text{candidate } g_t = \tanh(a_g)\ \text{(L2)}` },
    { gate: "o", kind: "sigmoid", tex: String.raw`\text{output gate } o_t = \sigma(a_o)\ \text{(L2)}` },
  ],
  gru: [
    { gate: "r", kind: "sigmoid", tex: String.raw`\text{reset gate } r_t = \sigma(a^x_r + a^h_r)\ \text{(G2)}` },
    { gate: "z", kind: "sigmoid", tex: String.raw`\text{update gate } z_t = \sigma(a^x_z + a^h_z)\ \text{(G2)}` },
    { gate: "n", kind: "tanh", tex: String.raw`\text{candidate } n_t = \tanh(a^x_n + r_t \odot a^h_n)\ \text{(G3)}` },
  ],
};

/**
 * Where a gate counts as left or right saturated, in words.
 * @param kind what produced the gate
 * @returns e.g. ["σ < 0.1", "σ > 0.9"]
 */
export function saturationBounds(kind: GateTerm["kind"]): readonly [string, string] {
  const k = GATE_SATURATION_THRESHOLD; // on the [−1, 1] scale: tanh, or 2σ − 1
  const num = (x: number): string => String(Number(x.toFixed(3)));
  return kind === "sigmoid" ? [`σ < ${num((1 - k) / 2)}`, `σ > ${num((1 + k) / 2)}`] : [`tanh < −${num(k)}`, `tanh > ${num(k)}`];
}

/** The simple RNN's saturation: one share, both ends of f1 together. */
export const SATURATION_TERM = String.raw`\text{share of } |h_t| > ${SATURATION_THRESHOLD} \ \text{(tanh: } f_1' = 1 - h_t^2 < 0.1\text{, so B4 blocks } dh_t\text{)}`;

/** The gated cells' saturation intro, around an example of a gate at its ends. */
const gatesIntro = (example: string): string =>
  "Per gate, the share of its activations over the chunk (all steps, sequences and units) that sit at its low end " +
  "(left saturated) and at its high end (right saturated), over training: the view of Karpathy, Johnson & Fei-Fei, " +
  `“Visualizing and understanding recurrent networks” (2015). A gate at an end is a switch — ${example} — and passes ` +
  "almost no gradient to its own pre-activation ($\\sigma'$ or $\\tanh' \\approx 0$).";

/** What the saturation view says first, per cell (text with $KaTeX$ segments). */
export const SATURATION_INTRO: Readonly<Record<CellName, string>> = {
  rnn: "The share of $h_t$ at the flat ends of $f_1$ over the chunk, per layer over training: there $f_1' \\approx 0$, and B4 all but stops the gradient.",
  lstm: gatesIntro("a forget gate at 1 keeps $c_{t-1}$, at 0 wipes it"),
  gru: gatesIntro("an update gate at 1 keeps $h_{t-1}$, at 0 replaces it by $n_t$"),
};

/** The state the hidden-state view colours, per cell and state name. */
export const STATE_TERMS: Readonly<Record<CellName, Readonly<Record<string, string>>>> = {
  rnn: { h: String.raw`h_t[j] = f_1(\bar h_t)[j]\ \text{(F2)}` },
  lstm: {
    h: String.raw`h_t[j] = (o_t \odot \tanh c_t)[j]\ \text{(L4)}`,
    c: String.raw`c_t[j] = (f_t \odot c_{t-1} + i_t \odot g_t)[j]\ \text{(L3)}`,
  },
  gru: { h: String.raw`h_t[j] = ((1 - z_t) \odot n_t + z_t \odot h_{t-1})[j]\ \text{(G4)}` },
};

/** What the plots that do not depend on the cell show. */
export const TERMS = {
  loss: String.raw`\tfrac{E}{B\,T}\ \text{(nats/char), smoothed; validation: the same on held-out text}`,
  throughput: String.raw`\text{tokens/s} = \tfrac{B\,T\ \text{per step}}{\text{seconds per step}}`,
  sample: String.raw`x_{t+1} \sim \operatorname{softmax}(\bar y_t / \tau)`,
} as const;

/**
 * Render TeX into an element.
 * @param el target
 * @param tex KaTeX source
 * @param display display (block) style
 */
export function renderTex(el: HTMLElement, tex: string, display = false): void {
  katex.render(tex, el, { displayMode: display, throwOnError: false, output: "html" });
}

/**
 * Render text with inline KaTeX: the segments between `$` signs are TeX.
 * @param el target (its children are replaced)
 * @param text e.g. "the error $dc_t$ of L6"
 */
export function renderRich(el: HTMLElement, text: string): void {
  el.replaceChildren(...text.split("$").map((part, i) => {
    if (i % 2 === 0) return part;
    const span = document.createElement("span");
    renderTex(span, part);
    return span;
  }));
}

/**
 * A table of tagged equations.
 * @param rows [tag, tex] pairs
 * @returns the element
 */
export function equationList(rows: Equations): HTMLElement {
  const list = document.createElement("div");
  list.className = "equations";
  for (const [tag, tex] of rows) {
    const row = document.createElement("div");
    row.className = "equation";
    const t = document.createElement("span");
    t.className = "tag";
    t.textContent = tag;
    const body = document.createElement("span");
    renderTex(body, tex);
    row.append(t, body);
    list.append(row);
  }
  return list;
}
