/**
 * The equations the page shows, in KaTeX source, as in docs/derivation.md: the model's head (F3–F5,
 * B1–B2: output layer, softmax, loss), which every cell shares, around the selected cell's own
 * equations, which come from the cell (`cell.view.forward` / `backward` in src/cells/<name>/view.ts,
 * not repeated here, like the terms and texts of its views), and the terms of the plots that do not
 * depend on the cell.
 */
import katex from "katex";
import { cellOf, GATE_SATURATION_THRESHOLD, type CellName, type GateTerm } from "bptt";

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

/**
 * The backward equations behind the gradient-flow plots.
 * @param cell the recurrent cell
 * @returns the cell's equations with the tags its view names for them
 */
export function gradientEquations(cell: CellName): Equations {
  const { view } = cellOf(cell);
  return view.backward.filter(([tag]) => view.gradient.tags.includes(tag));
}

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
