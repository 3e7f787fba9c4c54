/** The hidden state over text: one unit's state coloured over a held-out passage, and the units that vary most. */
import { cellOf, isSaturated, type CellName, type Nonlinearity } from "bptt";
import { mark, ui } from "../elements.ts";
import { renderTex } from "../equations.ts";
import { page } from "../state.ts";

/**
 * The term over the view, for the state shown.
 * @param cell the cell
 * @param state index into its stateNames
 */
export function showHiddenTerm(cell: CellName, state: number): void {
  const name = cellOf(cell).stateNames[state] ?? "h";
  const key = `${cell}/${name}`;
  if (ui.hiddenTerm.dataset["key"] === key) return;
  ui.hiddenTerm.dataset["key"] = key;
  renderTex(ui.hiddenTerm, cellOf(cell).view.states.find((s) => s.name === name)?.tex ?? name);
}

/** Colour the passage by the unit chosen (or, until one is picked, the one that varies most). */
export function drawHidden(): void {
  const { hidden, model } = page;
  if (hidden === undefined || model === undefined) return;
  const { chars, H, activations } = hidden;
  const { cell } = model.config;
  const { stateNames, view } = cellOf(cell);
  const name = stateNames[hidden.state] ?? "h";
  showHiddenTerm(cell, hidden.state);
  // an unbounded state (the LSTM's c_t) counts as saturated where tanh of it is; the others are f1's output (tanh for the gated cells)
  const unbounded = view.states.find((s) => s.name === name)?.unbounded === true;
  const f: Nonlinearity = unbounded ? "tanh" : model.config.nonlinearity;
  const saturatedAt = (v: number): boolean => isSaturated(unbounded ? Math.tanh(v) : v, f);
  const T = chars.length;
  // every unit's saturation over the passage, and the units that vary most (good ones to look at)
  let all = 0;
  const variance: [number, number][] = [];
  for (let j = 0; j < H; j++) {
    let s = 0;
    let s2 = 0;
    for (let t = 0; t < T; t++) {
      const h = activations[t * H + j];
      s += h;
      s2 += h * h;
      if (saturatedAt(h)) all++;
    }
    variance.push([s2 / T - (s / T) ** 2, j]);
  }
  variance.sort((a, b) => b[0] - a[0]);
  ui.hiddenUnit.max = String(H - 1);
  ui.hiddenUnitRange.max = String(H - 1);
  if (!page.unitPicked) setUnit(variance[0]?.[1] ?? 0);
  const unit = Math.min(H - 1, Math.max(0, Math.floor(Number(ui.hiddenUnit.value) || 0)));
  // colour scale: tanh [−1, 1]; sigmoid [0, 1] around 0.5; relu [0, max over the passage]; an unbounded state (c) [−max |c|, max |c|]
  let max = 0;
  for (let t = 0; t < T; t++) max = Math.max(max, unbounded ? Math.abs(activations[t * H + unit]) : activations[t * H + unit]);
  const scaled = (h: number): number =>
    unbounded || f === "relu" ? (max > 0 ? h / max : 0) : f === "tanh" ? h : 2 * h - 1;
  // one span per character, made once per passage; a new model state or unit only recolours them
  const passageText = chars.join("");
  if (ui.hiddenText.dataset["passage"] !== passageText || ui.hiddenText.children.length !== T) {
    ui.hiddenText.replaceChildren(...chars.map((c) => {
      const span = document.createElement("span");
      span.textContent = c === "\n" ? "↵\n" : c;
      return span;
    }));
    ui.hiddenText.dataset["passage"] = passageText;
  }
  let saturated = 0;
  for (let t = 0; t < T; t++) {
    const h = activations[t * H + unit];
    if (saturatedAt(h)) saturated++;
    const span = ui.hiddenText.children[t] as HTMLElement;
    span.style.background = diverging(scaled(h));
    span.title = `${name}_${t + 1}[${unit}] = ${h.toFixed(3)}`;
  }
  mark(ui.hiddenText, T);
  ui.hiddenText.dataset["state"] = name;
  const what = unbounded ? `tanh(${name}_t) saturated` : "saturated";
  ui.hiddenInfo.replaceChildren(
    `Layer ${hidden.layer + 1}, ${name}_t, unit ${unit}${page.unitPicked ? "" : " (the one that varies most; pick another to keep it)"}` +
      `${unbounded ? `, |${name}_t| up to ${max.toFixed(2)} here` : ""}: ${what} at ${((100 * saturated) / T).toFixed(1)}% of these ${T} characters; ` +
      `all units of the layer: ${((100 * all) / (T * H)).toFixed(1)}%. Units that vary most here: `,
    ...variance.slice(0, 6).map(([, j]) => {
      const a = document.createElement("button");
      a.type = "button";
      a.className = "link";
      a.textContent = String(j);
      a.onclick = () => {
        page.unitPicked = true;
        setUnit(j);
        drawHidden();
      };
      return a;
    }),
  );
}

/** Forget the passage shown (a reset). */
export function clearHidden(): void {
  page.hidden = undefined;
  ui.hiddenText.replaceChildren();
}

function setUnit(j: number): void {
  ui.hiddenUnit.value = String(j);
  ui.hiddenUnitRange.value = String(j);
}

/** Blue (−1) – white (0) – red (+1), at most 70 % saturated so that the text stays readable. */
function diverging(x: number): string {
  const v = Math.max(-1, Math.min(1, x));
  const a = 0.7 * Math.abs(v);
  const [r, g, b] = v >= 0 ? [214, 39, 40] : [31, 119, 180];
  const mix = (c: number): number => Math.round(255 + a * (c - 255));
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}
