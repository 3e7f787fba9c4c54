/**
 * The playground page's wiring. Training runs in worker.ts; this thread only draws what the worker
 * reports, so the page never freezes. The worker's messages update the page's state (state.ts)
 * and the views draw from it (views/); the page's events read the form (form.ts) and the text
 * (text.ts) and send the worker commands (protocol.ts). Every handler of the page's fixed elements
 * and of the form's fields is attached here.
 */
import "katex/dist/katex.min.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { CellName } from "bptt";
import { ui } from "./elements.ts";
import { renderTex, TERMS } from "./equations.ts";
import {
  buildForm, clearErrors, formCell, formLayers, input, lockForm, readForm, rememberNonlinearity, showError,
  showFieldError, showSettings, showWorkerError,
} from "./form.ts";
import type { Command, ModelSummary, Settings, WorkerEvent } from "./protocol.ts";
import { codePoints, modelSettings, parseSettings } from "./settings.ts";
import { addDiag, addEval, addSteps, clearHistories, page, setRun, type RunState } from "./state.ts";
import { currentText, heldOutPassage, lockText, readTextFile, setCustomText, showTextSource } from "./text.ts";
import { drawDiagnostics, drawSaturation } from "./views/diagnostics.ts";
import { clearHidden, drawHidden } from "./views/hidden.ts";
import { layOut } from "./views/layout.ts";
import { drawLoss } from "./views/loss.ts";
import { clearSamples, showSample } from "./views/samples.ts";
import { drawProgress, showKernels, showRunState, showThreads } from "./views/status.ts";

// the form first: the handlers below attach to its fields
buildForm();

// ---------------------------------------------------------------- worker → state → views

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (command: Command, transfer: Transferable[] = []): void => worker.postMessage(command, transfer);

worker.onmessage = (e: MessageEvent<WorkerEvent>): void => {
  const m = e.data;
  switch (m.type) {
    case "ready":
      showKernels(m.kernels, m.note);
      showThreads(m.threads, m.threadsNote, true);
      break;
    case "threads":
      showThreads(m.threads, m.note, false);
      break;
    case "state":
      onState(m.state, m.model);
      break;
    case "steps":
      addSteps(m.points, m.epoch, m.averageTokensPerSec);
      if (m.points.length > 0) drawProgress();
      drawLoss();
      break;
    case "eval":
      addEval(m.step, m.valLoss);
      drawLoss();
      break;
    case "diag":
      addDiag({ step: m.step, layers: m.layers });
      drawDiagnostics(false);
      break;
    case "sample":
      showSample(m.step, m.temperature, m.topP, m.text, m.requested);
      if (!m.requested) requestHidden();
      break;
    case "hidden":
      page.hidden = { layer: m.layer, state: m.state, chars: m.chars, H: m.H, activations: m.activations };
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

function onState(run: RunState, model: ModelSummary | undefined): void {
  if (setRun(run, model) && model !== undefined) {
    // the form shows the model's cell and shape and its run's settings (a loaded checkpoint's, not the form's)
    showSettings({ ...modelSettings(model.config), ...model.run });
  }
  layOut(viewCell(), viewLayers());
  showRunState();
  ui.train.textContent = run === "running" ? "Pause" : run === "paused" ? "Resume" : "Train";
  ui.step.disabled = run === "running";
  ui.reset.disabled = run === "idle";
  ui.save.disabled = model === undefined;
  ui.sample.disabled = model === undefined;
  ui.hiddenRefresh.disabled = model === undefined;
  ui.loadFile.disabled = run === "running";
  lockForm(run, model);
  lockText(run === "running");
  if (model !== undefined && run === "paused") requestHidden();
}

/** The cell the views show: the model's, or the form's while there is none. */
function viewCell(): CellName {
  return page.model?.config.cell ?? formCell();
}

/** The layers the views show: the model's, or the form's while there is none. */
function viewLayers(): number {
  return page.model?.config.layers ?? formLayers();
}

// ---------------------------------------------------------------- events → commands

/** Check the form; show a message under each bad field. */
async function validated(): Promise<{ settings: Settings; text: string } | undefined> {
  clearErrors();
  const text = await currentText();
  const parsed = parseSettings(readForm(), codePoints(text));
  if (!parsed.ok) {
    for (const [field, message] of parsed.errors) showFieldError(field, message);
    return undefined;
  }
  if (text.length === 0) {
    showFieldError("text", "the text is empty: paste some text or drop a file");
    return undefined;
  }
  return { settings: parsed.settings, text };
}

async function trainOrPause(steps: number | undefined): Promise<void> {
  if (page.run === "running") {
    send({ type: "pause" });
    return;
  }
  const v = await validated();
  if (v === undefined) return;
  if (page.model === undefined) clearPlots();
  send({ type: "train", settings: v.settings, text: v.text, steps });
}

function clearPlots(): void {
  clearHistories();
  drawLoss();
  drawDiagnostics(true);
  clearSamples();
}

function requestHidden(): void {
  if (page.model === undefined) return;
  const passage = heldOutPassage();
  if (passage !== undefined) send({ type: "hidden", layer: Number(ui.hiddenLayer.value), state: Number(ui.hiddenState.value), passage });
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

ui.train.onclick = () => void trainOrPause(undefined).catch(showError);
ui.step.onclick = () => void trainOrPause(1).catch(showError);
ui.reset.onclick = () => {
  send({ type: "reset" });
  clearPlots();
  clearHidden();
};
ui.save.onclick = () => send({ type: "save" });
ui.loadFile.onchange = async () => {
  const file = ui.loadFile.files?.[0];
  if (file === undefined) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  ui.loadFile.value = "";
  clearErrors();
  clearPlots();
  page.model = undefined; // the next state event is a fresh model
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

// ---------------------------------------------------------------- events within the page

input("cell").onchange = () => {
  // only while there is no model (the field is locked otherwise): the views follow the form
  lockForm(page.run, page.model);
  layOut(viewCell(), viewLayers());
};
input("layers").onchange = () => {
  if (page.model === undefined) layOut(viewCell(), viewLayers());
};
input("nonlinearity").onchange = rememberNonlinearity;
ui.gradLayer.onchange = () => drawDiagnostics(true);
ui.saturationLayer.onchange = () => drawSaturation();
ui.hiddenLayer.onchange = () => requestHidden();
ui.hiddenState.onchange = () => requestHidden();
ui.hiddenRefresh.onclick = () => requestHidden();
ui.hiddenUnit.oninput = () => {
  page.unitPicked = true;
  ui.hiddenUnitRange.value = ui.hiddenUnit.value;
  drawHidden();
};
ui.hiddenUnitRange.oninput = () => {
  page.unitPicked = true;
  ui.hiddenUnit.value = ui.hiddenUnitRange.value;
  drawHidden();
};
for (const radio of ui.textSources) radio.onchange = showTextSource;
ui.customText.oninput = () => setCustomText(ui.customText.value);
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

// ---------------------------------------------------------------- start

for (const e of document.querySelectorAll<HTMLElement>("[data-tex]")) renderTex(e, TERMS[e.dataset["tex"] as keyof typeof TERMS]);
lockForm(page.run, page.model);
layOut(viewCell(), viewLayers());
void currentText().catch(showError);
