/** The lines that say where things stand: the status, the kernels, the throughput, the model under the checkpoint buttons. */
import { cellOf, type ModelConfig } from "bptt";
import { throttled } from "../charts.ts";
import { ui } from "../elements.ts";
import { page } from "../state.ts";

/**
 * Show which kernels the worker runs, and why not the WebAssembly ones when it does not.
 * @param kernels their name
 * @param note why they are the slower ones, or ""
 */
export function showKernels(kernels: string, note: string): void {
  ui.kernels.textContent = `kernels: ${kernels}${note === "" ? "" : " (slower: see tooltip)"}`;
  ui.kernels.title = note === "" ? "WebAssembly SIMD kernels, as the CLI uses" : note;
}

/**
 * Show how many threads train: before a run, how many the worker can use (`available`); during
 * one, how many it runs on. One thread comes with the reason, when there is one. The count is in
 * `data-threads` for the end-to-end test. On several threads, the gradient views say where their
 * numbers come from.
 * @param threads the count
 * @param note why 1, or ""
 * @param available whether this is what the worker can use rather than what a run uses
 */
export function showThreads(threads: number, note: string, available: boolean): void {
  const count = threads > 1 ? `${available ? "up to " : ""}${threads} threads` : "1 thread";
  ui.threads.textContent = note === "" ? count : `${count}: ${note}`;
  ui.threads.title = threads > 1
    ? "data-parallel over the batch, as bptt train: this worker and nested workers share the WebAssembly memory"
    : "training runs in the page's worker alone";
  ui.threads.dataset[available ? "available" : "threads"] = String(threads);
  if (available) return;
  ui.gradThreads.hidden = threads === 1;
  ui.gradThreads.textContent =
    `Training runs on ${threads} threads, whose engine keeps no activations: these views come from a one-thread pass ` +
    "over the next step's chunk with that step's parameters (what one thread's backward would show at that step), " +
    "every few steps, so that it takes at most 5 % of the training time. Set threads to 1 to draw them from the training engine itself, more often.";
}

/** The status line while not training (while training, `drawProgress` writes it), and the run state for the end-to-end test. */
export function showRunState(): void {
  const { run, model } = page;
  if (run !== "running") ui.status.textContent = run === "idle" ? "ready: press Train" : `paused at step ${model?.step ?? 0}`;
  document.body.dataset["state"] = run;
  showModelInfo(model?.step ?? 0);
}

/** The latest step on the status line, the throughput and the model line (redrawn at most 4 times a second, like the charts). */
export const drawProgress = throttled(() => {
  if (page.run !== "running") return;
  const { step, epoch, loss, average, now } = page.progress;
  ui.status.textContent = `training — step ${step}, epoch ${epoch.toFixed(2)}, loss ${loss.toFixed(3)}`;
  ui.throughput.textContent = `— ${fmt(average)} tokens/s on average (${fmt(now)} now)`;
  ui.throughput.dataset["average"] = String(average);
  showModelInfo(step);
});

/** The model line under the checkpoint buttons; the step changes while training. */
function showModelInfo(step: number): void {
  const { model } = page;
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

/** "tanh RNN" (a cell with a choice of f1 names it), "LSTM", "GRU". */
function cellTitle(c: ModelConfig): string {
  const cell = cellOf(c.cell);
  return cell.nonlinearities.length > 1 ? `${c.nonlinearity} ${cell.title}` : cell.title;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0)) : "–";
}
