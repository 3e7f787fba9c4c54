/**
 * The model's equations (F1–F5) and BPTT's (B1–B6), as in docs/derivation.md, in KaTeX source,
 * and the terms each plot shows.
 */
import katex from "katex";

/** Forward pass, one line per equation tag. */
export const FORWARD: readonly (readonly [string, string])[] = [
  ["F1", String.raw`\bar h_t = W_i x_t + W_h h_{t-1} + b_h`],
  ["F2", String.raw`h_t = f_1(\bar h_t)`],
  ["F3", String.raw`\bar y_t = W_o h_t + b_o`],
  ["F4", String.raw`y_t = \operatorname{softmax}(\bar y_t)`],
  ["F5", String.raw`E = \textstyle\sum_{b,t} -\log y_t[k_t]`],
];

/** Backward pass (dz = ∂E/∂z). */
export const BACKWARD: readonly (readonly [string, string])[] = [
  ["B1", String.raw`d\bar y_t = y_t - \operatorname{onehot}(k_t)`],
  ["B2", String.raw`dW_o \mathrel{+}= d\bar y_t\, h_t^\top,\quad db_o \mathrel{+}= d\bar y_t`],
  ["B3", String.raw`dh_t = W_o^\top d\bar y_t + W_h^\top d\bar h_{t+1},\quad d\bar h_{T+1} = 0`],
  ["B4", String.raw`d\bar h_t = f_1'(h_t) \odot dh_t`],
  ["B5", String.raw`dW_i \mathrel{+}= d\bar h_t\, x_t^\top,\quad dW_h \mathrel{+}= d\bar h_t\, h_{t-1}^\top,\quad db_h \mathrel{+}= d\bar h_t`],
  ["B6", String.raw`dh_0 = W_h^\top d\bar h_1`],
];

/** What each plot shows. */
export const TERMS = {
  loss: String.raw`\tfrac{E}{B\,T}\ \text{(nats/char), smoothed; validation: the same on held-out text}`,
  throughput: String.raw`\text{tokens/s} = \tfrac{B\,T\ \text{per step}}{\text{seconds per step}}`,
  sample: String.raw`x_{t+1} \sim \operatorname{softmax}(\bar y_t / \tau)`,
  dhBar: String.raw`\lVert d\bar h_t \rVert = \lVert \partial E/\partial \bar h_t \rVert_F \ \text{over the batch}`,
  contribution: String.raw`\bigl\lVert \textstyle\sum_b d\bar h_{t,b}\, h_{t-1,b}^\top \bigr\rVert_F \ \text{(step $t$'s term of } dW_h\text{, B5)}`,
  hidden: String.raw`h_t[j] = f_1(\bar h_t)[j]`,
  saturation: String.raw`\text{share of } |h_t| > 0.95 \ \text{(tanh: } f_1' = 1 - h_t^2 < 0.1\text{, so B4 blocks } dh_t\text{)}`,
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
 * A table of tagged equations.
 * @param rows [tag, tex] pairs
 * @returns the element
 */
export function equationList(rows: readonly (readonly [string, string])[]): HTMLElement {
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
