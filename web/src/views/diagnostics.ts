/**
 * The gradient-flow views (the latest chunk's series against t, a heatmap per series over
 * training) and the saturation charts, drawn from the diagnostics the worker reports.
 */
import { cellOf } from "bptt";
import { mark, ui } from "../elements.ts";
import type { LayerDiag } from "../protocol.ts";
import { page } from "../state.ts";

/**
 * Draw the gradient flow and the saturation of the layer chosen.
 * @param replay redraw the heatmaps from the whole history (a new layout or layer), rather than add the latest chunk
 */
export function drawDiagnostics(replay: boolean): void {
  const lay = page.layout;
  if (lay === undefined) return;
  const history = page.diag;
  const layer = Number(ui.gradLayer.value);
  if (replay) for (const h of lay.heatmaps) h.chart.clear();
  const from = replay ? 0 : history.length - 1;
  for (let i = Math.max(0, from); i < history.length; i++) {
    const d = history[i].layers[layer];
    if (d === undefined) continue;
    for (const h of lay.heatmaps) {
      const s = d.series.find((x) => x.key === h.key);
      if (s !== undefined) h.chart.add(history[i].step, s.values);
    }
  }
  const d = history[history.length - 1]?.layers[layer];
  if (d !== undefined) {
    const T = d.series[0]?.values.length ?? 0;
    const ts = Array.from({ length: T }, (_, i) => i + 1);
    // log scale: a zero norm (no gradient at all) is left out
    const positive = (a: Float32Array | undefined): (number | null)[] => ts.map((_, i) => (a !== undefined && a[i] > 0 ? a[i] : null));
    const lines = lay.terms.map((term) => positive(d.series.find((x) => x.key === term.key)?.values));
    lay.latest.setData([ts, ...lines]);
    mark(lay.latest.container, ts.length);
    // the plotted values, for the end-to-end test and test/e2e/measure-gradients.ts
    lay.latest.container.dataset["values"] = JSON.stringify(Object.fromEntries(lay.terms.map((term, i) => [
      term.key, lines[i].map((v) => (v === null ? null : Number(v.toPrecision(4)))),
    ])));
  }
  for (const h of lay.heatmaps) mark(h.chart.container, h.chart.columnCount);
  requestAnimationFrame(() => {
    for (const h of lay.heatmaps) h.range.textContent = colourRange(h.chart.range);
  });
  drawSaturation();
}

/** The saturation charts over training: one share of f1's ends per layer (the simple RNN), or each gate's left and right shares in one layer. */
export function drawSaturation(): void {
  const lay = page.layout;
  if (lay === undefined) return;
  const history = page.diag;
  const steps = history.map((h) => h.step);
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  if (cellOf(lay.cell).view.saturation.kind === "output") {
    const [view] = lay.saturation;
    if (view === undefined) return;
    // f1's flat ends together: the cell reports them as one share
    const share = (d: LayerDiag | undefined): number | null => (d === undefined ? null : d.saturation.reduce((a, g) => a + g.low + g.high, 0));
    const lines = Array.from({ length: lay.layers }, (_, l) => history.map((h) => share(h.layers[l])));
    view.chart.setData([steps, ...lines]);
    mark(view.chart.container, steps.length);
    const now = lines.map((line, l) => {
      const v = line[line.length - 1];
      return `${v === undefined || v === null ? "–" : pct(v)}${lay.layers > 1 ? ` in layer ${l + 1}` : ""}`;
    });
    view.now.textContent = steps.length === 0 ? "" : `— now ${now.join(", ")}`;
  } else {
    const layer = Number(ui.saturationLayer.value);
    for (const view of lay.saturation) {
      const of = (h: { layers: readonly LayerDiag[] }): { low: number; high: number } | undefined =>
        h.layers[layer]?.saturation.find((g) => g.gate === view.gate);
      view.chart.setData([steps, history.map((h) => of(h)?.low ?? null), history.map((h) => of(h)?.high ?? null)]);
      mark(view.chart.container, steps.length);
      const last = history[history.length - 1];
      const g = last === undefined ? undefined : of(last);
      view.now.textContent = g === undefined ? "" : `— now left ${pct(g.low)}, right ${pct(g.high)}`;
    }
  }
  mark(ui.saturation, steps.length);
}

function colourRange([lo, hi]: [number, number]): string {
  return `(colour: log scale, dark ≤ 10^${lo.toFixed(1)} … bright ≥ 10^${hi.toFixed(1)})`;
}
