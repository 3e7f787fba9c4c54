/**
 * The views that depend on the cell and the number of layers: the gradient-flow charts, the
 * saturation charts, the hidden-state selector and the equations, rebuilt when either changes.
 */
import { cellOf, DEFAULT_HEAD, HEADS, type CellName, type SeriesTerm } from "bptt";
import { COLORS, Heatmap, LineChart } from "../charts.ts";
import { ui } from "../elements.ts";
import { equationList, gradientEquations, modelEquations, renderRich, renderTex, saturationBounds } from "../equations.ts";
import { page } from "../state.ts";
import { drawDiagnostics } from "./diagnostics.ts";
import { showHiddenTerm } from "./hidden.ts";

/** The charts laid out for one cell and number of layers. */
export interface Layout {
  readonly cell: CellName;
  readonly layers: number;
  /** The cell's per-step series, in the order plotted. */
  readonly terms: readonly SeriesTerm[];
  /** Every series of the latest chunk against t. */
  readonly latest: LineChart;
  /** One heatmap per series, over steps × t. */
  readonly heatmaps: readonly { readonly key: string; readonly chart: Heatmap; readonly range: HTMLElement }[];
  /** The simple RNN: one chart, a line per layer; a gated cell: a chart per gate, left and right saturated. */
  readonly saturation: readonly { readonly gate: string; readonly chart: LineChart; readonly now: HTMLElement }[];
}

/**
 * Lay the cell's views out (charts, equations, selectors), unless they already are for this cell and L;
 * then replay the diagnostics received so far into them.
 * @param cell the cell to show
 * @param L layers
 */
export function layOut(cell: CellName, L: number): void {
  const old = page.layout;
  if (old !== undefined && old.cell === cell && old.layers === L) return;
  if (old !== undefined) {
    old.latest.dispose();
    for (const h of old.heatmaps) h.chart.dispose();
    for (const s of old.saturation) s.chart.dispose();
  }
  fillLayers(L);
  const { stateNames, view } = cellOf(cell);
  const terms = view.gradient.series;

  // gradient flow: the cell's own BPTT equations, every series of the latest chunk, a heatmap per series
  renderRich(ui.gradIntro, view.gradient.intro);
  ui.eqGradients.replaceChildren(equationList(gradientEquations(cell)));
  ui.latestTerms.replaceChildren(...terms.flatMap((term, i) => [i === 0 ? "" : i === terms.length - 1 ? " and " : ", ", tex(term.tex)]));
  const latest = new LineChart(ui.latest, {
    x: "t (step within the chunk)", y: "norm (log scale)", logY: true,
    series: terms.map((term, i) => ({ label: term.legend, stroke: COLORS[i % COLORS.length], width: 2 })),
  });
  ui.heatmaps.replaceChildren();
  const heatmaps = terms.map((term) => {
    const range = document.createElement("span");
    range.className = "colour-range";
    const container = document.createElement("div");
    container.id = `heat-${term.key}`;
    container.className = "chart";
    ui.heatmaps.append(termLine("heatmap: ", tex(term.tex), " ", range), container);
    return { key: term.key, chart: new Heatmap(container, `log10 ${term.legend}`), range };
  });

  // saturation
  ui.saturation.replaceChildren();
  const sat = view.saturation;
  renderRich(ui.saturationIntro, sat.intro);
  const saturation: { gate: string; chart: LineChart; now: HTMLElement }[] = [];
  const chartIn = (parent: HTMLElement, id: string): HTMLElement => {
    const container = document.createElement("div");
    container.id = id;
    container.className = "chart";
    parent.append(container);
    return container;
  };
  if (sat.kind === "output") {
    ui.saturationControls.hidden = true; // every layer in one chart
    ui.saturation.className = "";
    const now = document.createElement("span");
    ui.saturation.append(termLine("plotted: ", tex(sat.tex), " ", now));
    const chart = new LineChart(chartIn(ui.saturation, "sat-h"), {
      x: "training step", y: "saturated share", height: 180,
      series: Array.from({ length: L }, (_, l) => ({ label: `layer ${l + 1}`, stroke: COLORS[l % COLORS.length], width: 2 })),
    });
    saturation.push({ gate: "h", chart, now });
  } else {
    ui.saturationControls.hidden = false;
    ui.saturation.className = "gates";
    for (const g of sat.gates) {
      const [left, right] = saturationBounds(g.kind);
      const now = document.createElement("span");
      const block = document.createElement("div");
      block.append(termLine("", tex(g.tex), " ", now));
      ui.saturation.append(block);
      const chart = new LineChart(chartIn(block, `sat-${g.gate}`), {
        x: "training step", y: "share", height: 170,
        series: [
          { label: `left (${left})`, stroke: COLORS[0], width: 2 },
          { label: `right (${right})`, stroke: COLORS[1], width: 2 },
        ],
      });
      saturation.push({ gate: g.gate, chart, now });
    }
  }

  // hidden state: the cell's states (h, and c for the LSTM)
  ui.hiddenState.replaceChildren(...view.states.map(({ name }) => new Option(name, String(stateNames.indexOf(name)))));
  ui.hiddenStateLabel.hidden = view.states.length < 2;
  showHiddenTerm(cell, Number(ui.hiddenState.value));

  // the model's equations: the cell's around the shared output layer
  const { forward, backward } = modelEquations(cell);
  const head = HEADS[DEFAULT_HEAD].view; // the page's models have the default head
  const tags = (rows: readonly (readonly [string, string])[]): string => `${rows[0]?.[0] ?? ""}–${rows[rows.length - 1]?.[0] ?? ""}`;
  ui.eqCell.textContent = `here the ${view.name} (${tags(view.forward)}, ${tags(view.backward)}) under the ${head.name} every cell shares (${tags(head.forward)}, ${tags(head.backward)}).`;
  ui.eqForward.replaceChildren(equationList(forward));
  ui.eqBackward.replaceChildren(equationList(backward));
  document.body.dataset["cell"] = cell;

  page.layout = { cell, layers: L, terms, latest, heatmaps, saturation };
  drawDiagnostics(true);
}

/** A KaTeX span. */
function tex(source: string): HTMLElement {
  const span = document.createElement("span");
  renderTex(span, source);
  return span;
}

/** A `.term` line: what a plot shows. */
function termLine(...parts: (string | Node)[]): HTMLElement {
  const p = document.createElement("p");
  p.className = "term";
  p.append(...parts);
  return p;
}

/** The layer selectors offer layers 1..L (and keep their choice when it still exists). */
function fillLayers(L: number): void {
  for (const select of [ui.gradLayer, ui.saturationLayer, ui.hiddenLayer]) {
    const chosen = Number(select.value);
    select.replaceChildren(...Array.from({ length: L }, (_, l) => new Option(String(l + 1), String(l))));
    select.value = String(chosen < L ? chosen : 0);
  }
}
