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
import type { Nonlinearity } from "../../src/model/config.ts";
import { COLORS, Heatmap, LineChart, throttled } from "./charts.ts";
import { BACKWARD, equationList, FORWARD, renderTex, TERMS } from "./equations.ts";
import type { Command, LayerDiag, ModelSummary, Settings, WorkerEvent } from "./protocol.ts";
import { codePoints, DEFAULT_SETTINGS, parseSettings, rawSettings, VAL_FRACTION, type Field, type RawSettings } from "./settings.ts";

const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];
/** Fields fixed for the life of a model (its shape and its run's batching). */
const MODEL_KEYS: readonly (keyof Settings)[] = ["hiddenSize", "layers", "nonlinearity", "bias", "seqLength", "batchSize", "optimizer", "seed"];
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
  prime: el<HTMLInputElement>("prime"),
  sample: el<HTMLButtonElement>("btn-sample"),
  samples: el("samples"),
  gradLayer: el<HTMLSelectElement>("grad-layer"),
  rangeDh: el("range-dh"),
  rangeContrib: el("range-contrib"),
  hiddenLayer: el<HTMLSelectElement>("hidden-layer"),
  hiddenUnit: el<HTMLInputElement>("hidden-unit"),
  hiddenUnitRange: el<HTMLInputElement>("hidden-unit-range"),
  hiddenRefresh: el<HTMLButtonElement>("btn-hidden"),
  hiddenInfo: el("hidden-info"),
  hiddenText: el("hidden-text"),
  saturationNow: el("saturation-now"),
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
let hidden: { layer: number; chars: readonly string[]; H: number; activations: Float32Array } | undefined;
/** Whether the user picked the unit; until then the view follows the unit that varies most. */
let unitPicked = false;

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
const latestChart = new LineChart(el("chart-latest"), {
  x: "t (step within the chunk)", y: "norm (log scale)", logY: true,
  series: [
    { label: "‖dh̄_t‖", stroke: COLORS[0], width: 2 },
    { label: "‖Σ_b dh̄_t h_{t−1}ᵀ‖_F", stroke: COLORS[1], width: 2 },
  ],
});
const heatDh = new Heatmap(el("heat-dh"), "log10 ‖dh̄_t‖");
const heatContrib = new Heatmap(el("heat-contrib"), "log10 ‖C_t‖_F");
let saturationChart = makeSaturationChart(1);

function makeSaturationChart(layers: number): LineChart {
  const container = el("chart-saturation");
  container.replaceChildren();
  return new LineChart(container, {
    x: "training step", y: "saturated share", height: 180,
    series: Array.from({ length: layers }, (_, l) => ({ label: `layer ${l + 1}`, stroke: COLORS[l % COLORS.length], width: 2 })),
  });
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
  const layer = Number(ui.gradLayer.value);
  if (replay) {
    heatDh.clear();
    heatContrib.clear();
  }
  const from = replay ? 0 : diagHistory.length - 1;
  for (let i = Math.max(0, from); i < diagHistory.length; i++) {
    const d = diagHistory[i].layers[layer];
    if (d === undefined) continue;
    heatDh.add(diagHistory[i].step, d.dhBarNorms);
    heatContrib.add(diagHistory[i].step, d.whContributions);
  }
  const last = diagHistory[diagHistory.length - 1];
  const d = last?.layers[layer];
  if (d !== undefined) {
    const ts = Array.from(d.dhBarNorms, (_, i) => i + 1);
    const positive = (a: Float32Array): (number | null)[] => Array.from(a, (v) => (v > 0 ? v : null));
    latestChart.setData([ts, positive(d.dhBarNorms), positive(d.whContributions)]);
    mark(latestChart.container, ts.length);
  }
  mark(heatDh.container, heatDh.columnCount);
  mark(heatContrib.container, heatContrib.columnCount);
  requestAnimationFrame(() => {
    ui.rangeDh.textContent = colourRange(heatDh.range);
    ui.rangeContrib.textContent = colourRange(heatContrib.range);
  });
  const steps = diagHistory.map((h) => h.step);
  const L = model?.config.layers ?? 1;
  saturationChart.setData([steps, ...Array.from({ length: L }, (_, l) => diagHistory.map((h) => h.layers[l]?.saturation ?? null))]);
  mark(saturationChart.container, steps.length);
  if (d !== undefined) ui.saturationNow.textContent = `— now ${(100 * d.saturation).toFixed(1)}% in layer ${layer + 1}`;
}

function colourRange([lo, hi]: [number, number]): string {
  return `(colour: log scale, dark ≤ 10^${lo.toFixed(1)} … bright ≥ 10^${hi.toFixed(1)})`;
}

function clearPlots(): void {
  for (const a of [loss.steps, loss.smooth, loss.chunk, loss.val, speed.steps, speed.rate]) a.length = 0;
  diagHistory = [];
  heatDh.clear();
  heatContrib.clear();
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
      showSample(m.step, m.temperature, m.text, m.requested);
      if (!m.requested) requestHidden();
      break;
    case "hidden":
      hidden = { layer: m.layer, chars: m.chars, H: m.H, activations: m.activations };
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
      fillLayers(c.layers);
      // the form shows the model's shape and its run's settings (a loaded checkpoint's, not the form's)
      const shown: Partial<Settings> = { hiddenSize: c.hiddenSize, layers: c.layers, nonlinearity: c.nonlinearity, bias: c.bias, ...summary.run };
      for (const [key, value] of Object.entries(shown)) input(key as keyof Settings).value = String(value);
    }
  }
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
  // A model's shape and batching are fixed; the update settings may change between segments.
  for (const key of SETTING_KEYS) input(key).disabled = next === "running" || (summary !== undefined && MODEL_KEYS.includes(key));
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
    `${model.source}: ${c.layers} × ${c.nonlinearity} RNN, H = ${c.hiddenSize}, V = ${c.vocabSize}, bias ${c.bias ? "yes" : "no"}` +
    (model.run.seqLength !== undefined ? `, T = ${model.run.seqLength}, B = ${model.run.batchSize}` : "") + `, step ${step}`;
  ui.modelInfo.dataset["step"] = String(step);
}

function fillLayers(L: number): void {
  for (const select of [ui.gradLayer, ui.hiddenLayer]) {
    select.replaceChildren(...Array.from({ length: L }, (_, l) => new Option(String(l + 1), String(l))));
  }
  saturationChart.plot.destroy();
  saturationChart = makeSaturationChart(L);
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
ui.temperature.oninput = () => {
  ui.temperatureValue.value = ui.temperature.value;
  send({ type: "sampling", temperature: Number(ui.temperature.value) });
};
ui.sample.onclick = () => {
  send({ type: "sample", temperature: Number(ui.temperature.value), length: 300, prime: ui.prime.value });
};
ui.gradLayer.onchange = () => drawDiagnostics(true);
ui.hiddenLayer.onchange = () => requestHidden();
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
  send({ type: "hidden", layer: Number(ui.hiddenLayer.value), passage: passage(text) });
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

function showSample(step: number, temperature: number, text: string, requested: boolean): void {
  const item = document.createElement("figure");
  item.className = "sample";
  const caption = document.createElement("figcaption");
  caption.textContent = `${requested ? "on request" : "periodic"}, step ${step}, τ = ${temperature}`;
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
  const f: Nonlinearity = model.config.nonlinearity;
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
      if (isSaturated(h, f)) all++;
    }
    variance.push([s2 / T - (s / T) ** 2, j]);
  }
  variance.sort((a, b) => b[0] - a[0]);
  ui.hiddenUnit.max = String(H - 1);
  ui.hiddenUnitRange.max = String(H - 1);
  if (!unitPicked) setUnit(variance[0]?.[1] ?? 0);
  const unit = Math.min(H - 1, Math.max(0, Math.floor(Number(ui.hiddenUnit.value) || 0)));
  // colour scale: tanh [−1, 1]; sigmoid [0, 1] around 0.5; relu [0, max over the passage]
  let max = 0;
  for (let t = 0; t < T; t++) max = Math.max(max, activations[t * H + unit]);
  const scaled = (h: number): number => (f === "tanh" ? h : f === "sigmoid" ? 2 * h - 1 : max > 0 ? h / max : 0);
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
    if (isSaturated(h, f)) saturated++;
    const span = ui.hiddenText.children[t] as HTMLElement;
    span.style.background = diverging(scaled(h));
    span.title = `h_${t + 1}[${unit}] = ${h.toFixed(3)}`;
  }
  mark(ui.hiddenText, T);
  ui.hiddenInfo.replaceChildren(
    `Layer ${hidden.layer + 1}, unit ${unit}${unitPicked ? "" : " (the one that varies most; pick another to keep it)"}: saturated at ${((100 * saturated) / T).toFixed(1)}% of these ${T} characters; ` +
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
el("eq-forward").append(equationList(FORWARD));
el("eq-backward").append(equationList(BACKWARD));
el("eq-gradients").append(equationList(BACKWARD.filter(([tag]) => tag === "B3" || tag === "B4" || tag === "B5")));
void currentText().catch(showError);
