/**
 * The playground page: the settings form, the buttons, and the plots. Training runs in
 * worker.ts; this thread only draws what the worker reports, so the page never freezes.
 */
import "katex/dist/katex.min.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import shakespeareUrl from "../../data/tinyshakespeare.txt?url";
import { decodeText } from "../../src/data/text.ts";
import { BpttError } from "../../src/errors.ts";
import { isSaturated } from "../../src/cells/diagnostics.ts";
import { CELL_NAMES, cellOf } from "../../src/cells/index.ts";
import type { CellName, ModelConfig, Nonlinearity } from "../../src/model/config.ts";
import { COLORS, Heatmap, LineChart, throttled } from "./charts.ts";
import {
  equationList, GATE_TERMS, GRADIENT_INTRO, gradientEquations, modelEquations, renderRich, renderTex,
  saturationBounds, SATURATION_INTRO, SATURATION_TERM, SERIES_TERMS, STATE_TERMS, TERMS, type SeriesTerm,
} from "./equations.ts";
import type { Command, LayerDiag, ModelSummary, Settings, WorkerEvent } from "./protocol.ts";
import { codePoints, DEFAULT_SETTINGS, LIMITS, parseSettings, rawSettings, VAL_FRACTION, type Field, type RawSettings } from "./settings.ts";

const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];
/** Fields fixed for the life of a model (its cell and shape, and its run's batching). */
const MODEL_KEYS: readonly (keyof Settings)[] = ["cell", "hiddenSize", "layers", "nonlinearity", "bias", "seqLength", "batchSize", "optimizer", "seed"];
const PASSAGE_CHARS = 600;
const MAX_SAMPLES = 4;
const MAX_DIAG_HISTORY = 1200;

// ---------------------------------------------------------------- elements

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

const ui = {
  status: el("status"),
  kernels: el("kernels"),
  customText: el<HTMLTextAreaElement>("custom-text"),
  textFile: el<HTMLInputElement>("text-file"),
  textInfo: el("text-info"),
  train: el<HTMLButtonElement>("btn-train"),
  step: el<HTMLButtonElement>("btn-step"),
  reset: el<HTMLButtonElement>("btn-reset"),
  save: el<HTMLButtonElement>("btn-save"),
  loadFile: el<HTMLInputElement>("load-file"),
  modelInfo: el("model-info"),
  workerError: el("err-worker"),
  throughput: el("throughput"),
  temperature: el<HTMLInputElement>("temperature"),
  temperatureValue: el<HTMLOutputElement>("temperature-value"),
  topP: el<HTMLInputElement>("top-p"),
  topPValue: el<HTMLOutputElement>("top-p-value"),
  prime: el<HTMLInputElement>("prime"),
  sample: el<HTMLButtonElement>("btn-sample"),
  samples: el("samples"),
  gradIntro: el("grad-intro"),
  gradLayer: el<HTMLSelectElement>("grad-layer"),
  latestTerms: el("latest-terms"),
  latest: el("chart-latest"),
  heatmaps: el("heatmaps"),
  saturationIntro: el("saturation-intro"),
  saturationControls: el("saturation-controls"),
  saturationLayer: el<HTMLSelectElement>("saturation-layer"),
  saturation: el("saturation"),
  hiddenLayer: el<HTMLSelectElement>("hidden-layer"),
  hiddenStateLabel: el("hidden-state-label"),
  hiddenState: el<HTMLSelectElement>("hidden-state"),
  hiddenTerm: el("hidden-term"),
  hiddenUnit: el<HTMLInputElement>("hidden-unit"),
  hiddenUnitRange: el<HTMLInputElement>("hidden-unit-range"),
  hiddenRefresh: el<HTMLButtonElement>("btn-hidden"),
  hiddenInfo: el("hidden-info"),
  hiddenText: el("hidden-text"),
  eqCell: el("eq-cell"),
  eqForward: el("eq-forward"),
  eqBackward: el("eq-backward"),
  eqGradients: el("eq-gradients"),
};

function input(key: keyof Settings): HTMLInputElement | HTMLSelectElement {
  return el<HTMLInputElement | HTMLSelectElement>(`set-${key}`);
}

// ---------------------------------------------------------------- state

let bundledText: string | undefined;
let customText = "";
let state: "idle" | "running" | "paused" = "idle";
let model: ModelSummary | undefined;

const loss = { steps: [] as number[], smooth: [] as number[], chunk: [] as number[], val: [] as (number | null)[] };
const speed = { steps: [] as number[], rate: [] as number[] };
let diagHistory: { step: number; layers: readonly LayerDiag[] }[] = [];
let hidden: { layer: number; state: number; chars: readonly string[]; H: number; activations: Float32Array } | undefined;
/** Whether the user picked the unit; until then the view follows the unit that varies most. */
let unitPicked = false;
/** The simple RNN's f1 as last chosen: the field shows tanh while a gated cell is selected, and gets it back after. */
let rnnNonlinearity: string = DEFAULT_SETTINGS.nonlinearity;

// ---------------------------------------------------------------- charts

const lossChart = new LineChart(el("chart-loss"), {
  x: "training step", y: "nats / char",
  series: [
    { label: "train (chunk)", stroke: "#bbb", width: 1 },
    { label: "train (smoothed)", stroke: COLORS[0], width: 2 },
    { label: "validation", stroke: COLORS[1], width: 2, spanGaps: true, points: { show: true, size: 6 } },
  ],
});
const speedChart = new LineChart(el("chart-speed"), {
  x: "training step", y: "tokens / s", height: 160,
  series: [{ label: "tokens/s", stroke: COLORS[2], width: 2 }],
});
/** The views that depend on the cell and the number of layers, rebuilt when either changes (`layOut`). */
interface Layout {
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

let layout: Layout | undefined;

/**
 * Lay the cell's views out (charts, equations, selectors), unless they already are for this cell and L;
 * then replay the diagnostics received so far into them.
 * @param cell the cell to show
 * @param L layers
 */
function layOut(cell: CellName, L: number): void {
  if (layout !== undefined && layout.cell === cell && layout.layers === L) return;
  if (layout !== undefined) {
    layout.latest.dispose();
    for (const h of layout.heatmaps) h.chart.dispose();
    for (const s of layout.saturation) s.chart.dispose();
  }
  fillLayers(L);
  const terms = SERIES_TERMS[cell];

  // gradient flow: the cell's own BPTT equations, every series of the latest chunk, a heatmap per series
  renderRich(ui.gradIntro, GRADIENT_INTRO[cell]);
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
  renderRich(ui.saturationIntro, SATURATION_INTRO[cell]);
  const saturation: { gate: string; chart: LineChart; now: HTMLElement }[] = [];
  const chartIn = (parent: HTMLElement, id: string): HTMLElement => {
    const container = document.createElement("div");
    container.id = id;
    container.className = "chart";
    parent.append(container);
    return container;
  };
  if (cell === "rnn") {
    ui.saturationControls.hidden = true; // every layer in one chart
    ui.saturation.className = "";
    const now = document.createElement("span");
    ui.saturation.append(termLine("plotted: ", tex(SATURATION_TERM), " ", now));
    const chart = new LineChart(chartIn(ui.saturation, "sat-h"), {
      x: "training step", y: "saturated share", height: 180,
      series: Array.from({ length: L }, (_, l) => ({ label: `layer ${l + 1}`, stroke: COLORS[l % COLORS.length], width: 2 })),
    });
    saturation.push({ gate: "h", chart, now });
  } else {
    ui.saturationControls.hidden = false;
    ui.saturation.className = "gates";
    for (const g of GATE_TERMS[cell]) {
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

  // hidden state: h, and c for the LSTM
  const { stateNames, view } = cellOf(cell);
  ui.hiddenState.replaceChildren(...view.shownStates.map((name) => new Option(name, String(stateNames.indexOf(name)))));
  ui.hiddenStateLabel.hidden = view.shownStates.length < 2;
  showHiddenTerm(cell, Number(ui.hiddenState.value));

  // the model's equations: the cell's around the shared output layer
  const { forward, backward } = modelEquations(cell);
  const { title } = cellOf(cell);
  const tags = (rows: readonly (readonly [string, string])[]): string => `${rows[0]?.[0] ?? ""}–${rows[rows.length - 1]?.[0] ?? ""}`;
  ui.eqCell.textContent = `here the ${cell === "rnn" ? "simple RNN" : title} (${tags(view.forward)}, ${tags(view.backward)}) under the output layer every cell shares (F3–F5, B1–B2).`;
  ui.eqForward.replaceChildren(equationList(forward));
  ui.eqBackward.replaceChildren(equationList(backward));
  document.body.dataset["cell"] = cell;

  layout = { cell, layers: L, terms, latest, heatmaps, saturation };
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

/** The term over the hidden-state view, for the state shown. */
function showHiddenTerm(cell: CellName, state: number): void {
  const name = cellOf(cell).stateNames[state] ?? "h";
  const key = `${cell}/${name}`;
  if (ui.hiddenTerm.dataset["key"] === key) return;
  ui.hiddenTerm.dataset["key"] = key;
  renderTex(ui.hiddenTerm, STATE_TERMS[cell][name] ?? name);
}

/** The cell the views show: the model's, or the form's while there is none. */
function viewCell(): CellName {
  if (model !== undefined) return model.config.cell;
  const v = input("cell").value;
  return (CELL_NAMES as readonly string[]).includes(v) ? (v as CellName) : DEFAULT_SETTINGS.cell;
}

/** The layers the views show: the model's, or the form's while there is none (1 while the field is invalid). */
function viewLayers(): number {
  if (model !== undefined) return model.config.layers;
  const L = Number(input("layers").value);
  return Number.isInteger(L) && L >= 1 && L <= LIMITS.layers ? L : 1;
}

/** The latest step, for the status line (redrawn at most 4 times a second, like the charts). */
let progress = { step: 0, epoch: 0, loss: NaN, average: NaN, now: NaN };
const drawProgress = throttled(() => {
  if (state !== "running") return;
  const { step, epoch, loss: l, average, now } = progress;
  ui.status.textContent = `training — step ${step}, epoch ${epoch.toFixed(2)}, loss ${l.toFixed(3)}`;
  ui.throughput.textContent = `— ${fmt(average)} tokens/s on average (${fmt(now)} now)`;
  ui.throughput.dataset["average"] = String(average);
  showModelInfo(step);
});

function mark(container: HTMLElement, points: number): void {
  container.dataset["points"] = String(points); // read by the end-to-end test
}

function drawLoss(): void {
  lossChart.setData([loss.steps, loss.chunk, loss.smooth, loss.val]);
  mark(lossChart.container, loss.steps.length);
  const firstLoss = loss.chunk.find((v) => Number.isFinite(v));
  const lastSmooth = loss.smooth[loss.smooth.length - 1];
  lossChart.container.dataset["first"] = String(firstLoss ?? NaN);
  lossChart.container.dataset["last"] = String(lastSmooth ?? NaN);
  lossChart.container.dataset["val"] = String(loss.val.filter((v) => v !== null).length);
  speedChart.setData([speed.steps, speed.rate]);
  mark(speedChart.container, speed.steps.length);
}

function drawDiagnostics(replay: boolean): void {
  const lay = layout;
  if (lay === undefined) return;
  const layer = Number(ui.gradLayer.value);
  if (replay) for (const h of lay.heatmaps) h.chart.clear();
  const from = replay ? 0 : diagHistory.length - 1;
  for (let i = Math.max(0, from); i < diagHistory.length; i++) {
    const d = diagHistory[i].layers[layer];
    if (d === undefined) continue;
    for (const h of lay.heatmaps) {
      const s = d.series.find((x) => x.key === h.key);
      if (s !== undefined) h.chart.add(diagHistory[i].step, s.values);
    }
  }
  const d = diagHistory[diagHistory.length - 1]?.layers[layer];
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

/** The saturation charts over training: the simple RNN's share per layer, or each gate's left and right shares in one layer. */
function drawSaturation(): void {
  const lay = layout;
  if (lay === undefined) return;
  const steps = diagHistory.map((h) => h.step);
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  if (lay.cell === "rnn") {
    const [view] = lay.saturation;
    if (view === undefined) return;
    // f1's flat ends together: the cell reports them as one share
    const share = (d: LayerDiag | undefined): number | null => (d === undefined ? null : d.saturation.reduce((a, g) => a + g.low + g.high, 0));
    const lines = Array.from({ length: lay.layers }, (_, l) => diagHistory.map((h) => share(h.layers[l])));
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
      view.chart.setData([steps, diagHistory.map((h) => of(h)?.low ?? null), diagHistory.map((h) => of(h)?.high ?? null)]);
      mark(view.chart.container, steps.length);
      const last = diagHistory[diagHistory.length - 1];
      const g = last === undefined ? undefined : of(last);
      view.now.textContent = g === undefined ? "" : `— now left ${pct(g.low)}, right ${pct(g.high)}`;
    }
  }
  mark(ui.saturation, steps.length);
}

function colourRange([lo, hi]: [number, number]): string {
  return `(colour: log scale, dark ≤ 10^${lo.toFixed(1)} … bright ≥ 10^${hi.toFixed(1)})`;
}

function clearPlots(): void {
  for (const a of [loss.steps, loss.smooth, loss.chunk, loss.val, speed.steps, speed.rate]) a.length = 0;
  diagHistory = [];
  drawLoss();
  drawDiagnostics(true);
  ui.samples.replaceChildren();
  unitPicked = false;
}

// ---------------------------------------------------------------- worker

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (command: Command, transfer: Transferable[] = []): void => worker.postMessage(command, transfer);

worker.onmessage = (e: MessageEvent<WorkerEvent>): void => {
  const m = e.data;
  switch (m.type) {
    case "ready":
      ui.kernels.textContent = `kernels: ${m.kernels}`;
      ui.kernels.title = m.note === "" ? "WebAssembly SIMD kernels, as the CLI uses" : m.note;
      if (m.note !== "") ui.kernels.textContent += " (slower: see tooltip)";
      break;
    case "state":
      onState(m.state, m.model);
      break;
    case "steps": {
      for (const p of m.points) {
        loss.steps.push(p.step);
        loss.chunk.push(p.loss);
        loss.smooth.push(p.smoothLoss);
        loss.val.push(null);
        if (!Number.isNaN(p.tokensPerSec)) {
          speed.steps.push(p.step);
          speed.rate.push(p.tokensPerSec);
        }
      }
      const last = m.points[m.points.length - 1];
      if (last !== undefined) {
        const now = Number.isNaN(last.tokensPerSec) ? progress.now : last.tokensPerSec;
        progress = { step: last.step, epoch: m.epoch, loss: last.smoothLoss, average: m.averageTokensPerSec, now };
        drawProgress();
      }
      drawLoss();
      break;
    }
    case "eval": {
      const i = loss.steps.lastIndexOf(m.step);
      if (i >= 0) loss.val[i] = m.valLoss;
      else {
        loss.steps.push(m.step);
        loss.chunk.push(NaN);
        loss.smooth.push(NaN);
        loss.val.push(m.valLoss);
      }
      drawLoss();
      break;
    }
    case "diag":
      diagHistory.push({ step: m.step, layers: m.layers });
      if (diagHistory.length > MAX_DIAG_HISTORY) diagHistory = diagHistory.filter((_, i) => i % 2 === 0);
      drawDiagnostics(false);
      break;
    case "sample":
      showSample(m.step, m.temperature, m.topP, m.text, m.requested);
      if (!m.requested) requestHidden();
      break;
    case "hidden":
      hidden = { layer: m.layer, state: m.state, chars: m.chars, H: m.H, activations: m.activations };
      drawHidden();
      break;
    case "checkpoint":
      download(m.bytes, `bptt-playground-step${m.step}.safetensors`);
      break;
    case "error":
      showWorkerError(m.name, m.message);
      break;
  }
};

worker.onerror = (e) => showWorkerError("Error", `the worker failed: ${e.message}`);

function onState(next: typeof state, summary: ModelSummary | undefined): void {
  const fresh = summary !== undefined && (model === undefined || summary.step < (loss.steps[loss.steps.length - 1] ?? 0));
  state = next;
  model = summary;
  showModelInfo(summary?.step ?? 0);
  if (summary !== undefined) {
    const c = summary.config;
    if (fresh) {
      // the form shows the model's cell and shape and its run's settings (a loaded checkpoint's, not the form's)
      const shown: Partial<Settings> = {
        cell: c.cell, hiddenSize: c.hiddenSize, layers: c.layers, nonlinearity: c.nonlinearity, bias: c.bias, ...summary.run,
      };
      for (const [key, value] of Object.entries(shown)) input(key as keyof Settings).value = String(value);
      if (c.cell === "rnn") rnnNonlinearity = c.nonlinearity;
    }
  }
  layOut(viewCell(), viewLayers());
  if (next !== "running") {
    ui.status.textContent = next === "idle" ? "ready: press Train" : `paused at step ${summary?.step ?? 0}`;
  }
  document.body.dataset["state"] = next;
  ui.train.textContent = next === "running" ? "Pause" : next === "paused" ? "Resume" : "Train";
  ui.step.disabled = next === "running";
  ui.reset.disabled = next === "idle";
  ui.save.disabled = summary === undefined;
  ui.sample.disabled = summary === undefined;
  ui.hiddenRefresh.disabled = summary === undefined;
  ui.loadFile.disabled = next === "running";
  // A model's cell, shape and batching are fixed; the update settings may change between segments.
  for (const key of SETTING_KEYS) input(key).disabled = next === "running" || (summary !== undefined && MODEL_KEYS.includes(key));
  syncNonlinearity();
  for (const r of document.querySelectorAll<HTMLInputElement>("input[name=text-source]")) r.disabled = next === "running";
  ui.customText.disabled = next === "running";
  if (summary !== undefined && next === "paused") requestHidden();
}

/** The model line under the checkpoint buttons; the step changes while training. */
function showModelInfo(step: number): void {
  if (model === undefined) {
    ui.modelInfo.textContent = "no model yet";
    return;
  }
  const c = model.config;
  ui.modelInfo.textContent =
    `${model.source}: ${c.layers} × ${cellTitle(c)}, H = ${c.hiddenSize}, V = ${c.vocabSize}, bias ${c.bias ? "yes" : "no"}` +
    (model.run.seqLength !== undefined ? `, T = ${model.run.seqLength}, B = ${model.run.batchSize}` : "") + `, step ${step}`;
  ui.modelInfo.dataset["step"] = String(step);
}

/** "tanh RNN" (its f1 matters), "LSTM", "GRU". */
function cellTitle(c: ModelConfig): string {
  return c.cell === "rnn" ? `${c.nonlinearity} RNN` : cellOf(c.cell).title;
}

/** The layer selectors offer layers 1..L (and keep their choice when it still exists). */
function fillLayers(L: number): void {
  for (const select of [ui.gradLayer, ui.saturationLayer, ui.hiddenLayer]) {
    const chosen = Number(select.value);
    select.replaceChildren(...Array.from({ length: L }, (_, l) => new Option(String(l + 1), String(l))));
    select.value = String(chosen < L ? chosen : 0);
  }
}

/**
 * The nonlinearity field applies to the simple RNN only: for a gated cell it shows the cell's one
 * choice (tanh), disabled; back on the RNN it shows the last f1 chosen for it.
 */
function syncNonlinearity(): void {
  const field = input("nonlinearity");
  const accepted = cellOf(viewCell()).nonlinearities;
  if (accepted.length === 1) {
    field.value = accepted[0];
    field.disabled = true;
    return;
  }
  if (model === undefined) field.value = rnnNonlinearity; // a model's own f1 is shown already
  field.disabled = state === "running" || model !== undefined;
}

// ---------------------------------------------------------------- actions

async function currentText(): Promise<string | undefined> {
  if (textSource() === "custom") return customText;
  if (bundledText === undefined) {
    ui.textInfo.textContent = "loading the bundled text…";
    const response = await fetch(shakespeareUrl);
    bundledText = decodeText(new Uint8Array(await response.arrayBuffer()), "the bundled tinyshakespeare.txt");
    showTextInfo();
  }
  return bundledText;
}

function textSource(): "bundled" | "custom" {
  return document.querySelector<HTMLInputElement>("input[name=text-source]:checked")?.value === "custom" ? "custom" : "bundled";
}

function readForm(): RawSettings {
  const raw: Record<string, string> = {};
  for (const key of SETTING_KEYS) raw[key] = input(key).value;
  return raw as RawSettings;
}

/** Check the form; show a message under each bad field. */
async function validated(): Promise<{ settings: Settings; text: string } | undefined> {
  clearErrors();
  const text = await currentText();
  const parsed = parseSettings(readForm(), text === undefined ? 0 : codePoints(text));
  if (!parsed.ok) {
    for (const [field, message] of parsed.errors) showFieldError(field, message);
    return undefined;
  }
  if (text === undefined || text.length === 0) {
    showFieldError("text", "the text is empty: paste some text or drop a file");
    return undefined;
  }
  return { settings: parsed.settings, text };
}

async function trainOrPause(steps: number | undefined): Promise<void> {
  if (state === "running") {
    send({ type: "pause" });
    return;
  }
  const v = await validated();
  if (v === undefined) return;
  if (model === undefined) clearPlots();
  send({ type: "train", settings: v.settings, text: v.text, steps });
}

ui.train.onclick = () => void trainOrPause(undefined).catch(showError);
ui.step.onclick = () => void trainOrPause(1).catch(showError);
ui.reset.onclick = () => {
  send({ type: "reset" });
  clearPlots();
  hidden = undefined;
  ui.hiddenText.replaceChildren();
};
ui.save.onclick = () => send({ type: "save" });
ui.loadFile.onchange = async () => {
  const file = ui.loadFile.files?.[0];
  if (file === undefined) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  ui.loadFile.value = "";
  clearErrors();
  clearPlots();
  model = undefined; // the next state event is a fresh model
  send({ type: "load", bytes, name: file.name }, [bytes.buffer]);
};
const sendSampling = (): void => {
  ui.temperatureValue.value = ui.temperature.value;
  ui.topPValue.value = ui.topP.value;
  send({ type: "sampling", temperature: Number(ui.temperature.value), topP: Number(ui.topP.value) });
};
ui.temperature.oninput = sendSampling;
ui.topP.oninput = sendSampling;
ui.sample.onclick = () => {
  send({ type: "sample", temperature: Number(ui.temperature.value), topP: Number(ui.topP.value), length: 300, prime: ui.prime.value });
};
input("cell").onchange = () => {
  // only while there is no model (the field is locked otherwise): the views follow the form
  syncNonlinearity();
  layOut(viewCell(), viewLayers());
};
input("layers").onchange = () => {
  if (model === undefined) layOut(viewCell(), viewLayers());
};
input("nonlinearity").onchange = () => {
  if (viewCell() === "rnn") rnnNonlinearity = input("nonlinearity").value;
};
ui.gradLayer.onchange = () => drawDiagnostics(true);
ui.saturationLayer.onchange = () => drawSaturation();
ui.hiddenLayer.onchange = () => requestHidden();
ui.hiddenState.onchange = () => requestHidden();
ui.hiddenRefresh.onclick = () => requestHidden();
ui.hiddenUnit.oninput = () => {
  unitPicked = true;
  ui.hiddenUnitRange.value = ui.hiddenUnit.value;
  drawHidden();
};
ui.hiddenUnitRange.oninput = () => {
  unitPicked = true;
  ui.hiddenUnit.value = ui.hiddenUnitRange.value;
  drawHidden();
};

function setUnit(j: number): void {
  ui.hiddenUnit.value = String(j);
  ui.hiddenUnitRange.value = String(j);
}

for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=text-source]")) {
  radio.onchange = () => {
    const custom = textSource() === "custom";
    ui.customText.hidden = !custom;
    ui.textFile.hidden = !custom;
    showTextInfo();
  };
}
ui.customText.oninput = () => {
  customText = ui.customText.value;
  showTextInfo();
};
ui.textFile.onchange = () => {
  const file = ui.textFile.files?.[0];
  if (file !== undefined) void readTextFile(file);
};
ui.customText.ondragover = (e) => e.preventDefault();
ui.customText.ondrop = (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files[0];
  if (file !== undefined) void readTextFile(file);
};

async function readTextFile(file: File): Promise<void> {
  clearErrors();
  try {
    customText = decodeText(new Uint8Array(await file.arrayBuffer()), file.name);
    ui.customText.value = customText.length > 200_000 ? `${customText.slice(0, 200_000)}\n… (${file.name}: shown in part, used whole)` : customText;
    showTextInfo();
  } catch (e) {
    showFieldError("text", e instanceof Error ? e.message : String(e));
  }
}

function showTextInfo(): void {
  const text = textSource() === "custom" ? customText : bundledText;
  if (text === undefined) {
    ui.textInfo.textContent = "";
    return;
  }
  const n = codePoints(text);
  const symbols = new Set(text).size;
  ui.textInfo.textContent = `${n.toLocaleString("en")} characters, ${symbols} distinct; the last ${VAL_FRACTION * 100}% validates`;
}

function requestHidden(): void {
  if (model === undefined) return;
  const text = textSource() === "custom" ? customText : bundledText;
  if (text === undefined || text.length === 0) return;
  send({ type: "hidden", layer: Number(ui.hiddenLayer.value), state: Number(ui.hiddenState.value), passage: passage(text) });
}

/** A passage of held-out text: from the first paragraph break of the validation part. */
function passage(text: string): string {
  const valStart = Math.floor(text.length * (1 - VAL_FRACTION));
  const br = text.indexOf("\n\n", valStart);
  const start = br >= 0 && br < valStart + 2000 ? br + 2 : valStart;
  let s = text.slice(start, start + PASSAGE_CHARS);
  const end = s.lastIndexOf("\n");
  if (end > PASSAGE_CHARS / 2) s = s.slice(0, end + 1);
  return s.length > 0 ? s : text.slice(0, PASSAGE_CHARS);
}

// ---------------------------------------------------------------- views

function showSample(step: number, temperature: number, topP: number, text: string, requested: boolean): void {
  const item = document.createElement("figure");
  item.className = "sample";
  const caption = document.createElement("figcaption");
  caption.textContent = `${requested ? "on request" : "periodic"}, step ${step}, τ = ${temperature}${topP < 1 ? `, top-p ${topP}` : ""}`;
  const pre = document.createElement("pre");
  pre.textContent = text;
  item.append(caption, pre);
  ui.samples.prepend(item);
  while (ui.samples.children.length > MAX_SAMPLES) ui.samples.lastElementChild?.remove();
  mark(ui.samples, ui.samples.children.length);
}

function drawHidden(): void {
  if (hidden === undefined || model === undefined) return;
  const { chars, H, activations } = hidden;
  const { cell } = model.config;
  const name = cellOf(cell).stateNames[hidden.state] ?? "h";
  showHiddenTerm(cell, hidden.state);
  // The LSTM's c_t is unbounded: it counts as saturated where tanh(c_t) is (L4, L6: 1 − tanh² c_t ≈ 0
  // blocks dh_t's way into dc_t); h_t is f1's output (tanh for the gated cells).
  const isCell = name === "c";
  const f: Nonlinearity = isCell ? "tanh" : model.config.nonlinearity;
  const saturatedAt = (v: number): boolean => isSaturated(isCell ? Math.tanh(v) : v, f);
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
  if (!unitPicked) setUnit(variance[0]?.[1] ?? 0);
  const unit = Math.min(H - 1, Math.max(0, Math.floor(Number(ui.hiddenUnit.value) || 0)));
  // colour scale: tanh [−1, 1]; sigmoid [0, 1] around 0.5; relu [0, max over the passage]; c [−max |c|, max |c|]
  let max = 0;
  for (let t = 0; t < T; t++) max = Math.max(max, isCell ? Math.abs(activations[t * H + unit]) : activations[t * H + unit]);
  const scaled = (h: number): number =>
    isCell || f === "relu" ? (max > 0 ? h / max : 0) : f === "tanh" ? h : 2 * h - 1;
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
  const what = isCell ? "tanh(c_t) saturated" : "saturated";
  ui.hiddenInfo.replaceChildren(
    `Layer ${hidden.layer + 1}, ${name}_t, unit ${unit}${unitPicked ? "" : " (the one that varies most; pick another to keep it)"}` +
      `${isCell ? `, |c_t| up to ${max.toFixed(2)} here` : ""}: ${what} at ${((100 * saturated) / T).toFixed(1)}% of these ${T} characters; ` +
      `all units of the layer: ${((100 * all) / (T * H)).toFixed(1)}%. Units that vary most here: `,
    ...variance.slice(0, 6).map(([, j]) => {
      const a = document.createElement("button");
      a.type = "button";
      a.className = "link";
      a.textContent = String(j);
      a.onclick = () => {
        unitPicked = true;
        setUnit(j);
        drawHidden();
      };
      return a;
    }),
  );
}

/** Blue (−1) – white (0) – red (+1), at most 70 % saturated so that the text stays readable. */
function diverging(x: number): string {
  const v = Math.max(-1, Math.min(1, x));
  const a = 0.7 * Math.abs(v);
  const [r, g, b] = v >= 0 ? [214, 39, 40] : [31, 119, 180];
  const mix = (c: number): number => Math.round(255 + a * (c - 255));
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------- messages

function clearErrors(): void {
  for (const e of document.querySelectorAll<HTMLElement>(".error")) e.textContent = "";
  for (const e of document.querySelectorAll<HTMLElement>(".invalid")) e.classList.remove("invalid");
}

function showFieldError(field: Field, message: string): void {
  el(`err-${field}`).textContent = message;
  if (field !== "text") input(field).classList.add("invalid");
  else ui.customText.classList.add("invalid");
}

function showWorkerError(name: string, message: string): void {
  ui.workerError.textContent = `${name}: ${message}`;
  // point at the field a library error names, when it names one
  for (const key of SETTING_KEYS) if (new RegExp(`\\b${key}\\b`).test(message)) el(`err-${key}`).textContent = message;
  if (/\btext\b/.test(message)) el("err-text").textContent = message;
}

function showError(e: unknown): void {
  showWorkerError(e instanceof BpttError ? e.name : "Error", e instanceof Error ? e.message : String(e));
}

function fmt(x: number): string {
  return Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0)) : "–";
}

// ---------------------------------------------------------------- start

for (const [key, value] of Object.entries(rawSettings(DEFAULT_SETTINGS))) input(key as keyof Settings).value = value;
for (const e of document.querySelectorAll<HTMLElement>("[data-tex]")) {
  const key = e.dataset["tex"] as keyof typeof TERMS;
  renderTex(e, TERMS[key]);
}
syncNonlinearity();
layOut(viewCell(), viewLayers());
void currentText().catch(showError);
