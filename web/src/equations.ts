/**
 * The equations the page shows, in KaTeX source, as in docs/derivation.md: the selected cell's
 * (`cell.view.forward` / `backward`, src/cells/<name>/view.ts) around the head's (`head.view`,
 * src/heads/<name>/index.ts: F3–F5, B1–B2 for the softmax head), which every cell shares; the terms
 * and texts of the cell's views come from its view too. Here: the terms of the plots that do not
 * depend on the cell, and the rendering.
 */
import katex from "katex";
import { cellOf, DEFAULT_HEAD, GATE_SATURATION_THRESHOLD, HEADS, type CellName, type GateTerm, type HeadName } from "bptt";

/** Tagged equations: [tag, KaTeX]. */
export type Equations = readonly (readonly [string, string])[];

/**
 * The whole model's equations for a cell and a head.
 * @param cell the recurrent cell
 * @param head the head (the page's models have the default one)
 * @returns forward: the cell's, then the head's (F3–F5); backward: the head's (B1–B2), then the cell's BPTT
 */
export function modelEquations(cell: CellName, head: HeadName = DEFAULT_HEAD): { readonly forward: Equations; readonly backward: Equations } {
  const { view } = cellOf(cell);
  const top = HEADS[head].view;
  return { forward: [...view.forward, ...top.forward], backward: [...top.backward, ...view.backward] };
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
