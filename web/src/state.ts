/**
 * What the page knows: the worker's run state and model, the histories it has reported (loss,
 * speed, diagnostics), the latest hidden-state pass, and the views laid out for the current cell.
 * The worker's messages update it (main.ts); the views draw from it. No DOM here.
 */
import type { LayerDiag, ModelSummary, StepPoint } from "./protocol.ts";
import type { Layout } from "./views/layout.ts";

/** The worker's state: no model, training, or a model that is not training (paused or loaded). */
export type RunState = "idle" | "running" | "paused";

/** One layer's state over a passage, as the worker sent it. */
export interface HiddenPass {
  readonly layer: number;
  /** Index into the cell's stateNames (h, or the LSTM's c). */
  readonly state: number;
  readonly chars: readonly string[];
  readonly H: number;
  /** (T, H) the state at every character. */
  readonly activations: Float32Array;
}

/** The diagnostics of one step's chunk, per layer. */
export interface DiagPoint {
  readonly step: number;
  readonly layers: readonly LayerDiag[];
}

/** The page's state (one object: the modules that read it import it). */
export const page = {
  run: "idle" as RunState,
  /** The current model; undefined before training or loading, and after a reset. */
  model: undefined as ModelSummary | undefined,
  /** Per step: its chunk's loss, the smoothed loss, and the validation loss where one was measured (null elsewhere). */
  loss: { steps: [] as number[], smooth: [] as number[], chunk: [] as number[], val: [] as (number | null)[] },
  /** Tokens/s "now", at the steps where it was measured. */
  speed: { steps: [] as number[], rate: [] as number[] },
  /** Diagnostics over training, thinned to at most MAX_DIAG_HISTORY chunks. */
  diag: [] as DiagPoint[],
  hidden: undefined as HiddenPass | undefined,
  /** Whether the user picked the unit; until then the hidden-state view follows the unit that varies most. */
  unitPicked: false,
  /** The latest step, for the status line. */
  progress: { step: 0, epoch: 0, loss: NaN, average: NaN, now: NaN },
  /** The views laid out for the current cell and number of layers. */
  layout: undefined as Layout | undefined,
};

const MAX_DIAG_HISTORY = 1200;

/**
 * Take a new run state and model.
 * @param run the worker's state
 * @param model its model
 * @returns whether the model is new to the page (a new run's first, a loaded or a reset one), whose settings the form should show
 */
export function setRun(run: RunState, model: ModelSummary | undefined): boolean {
  const fresh = model !== undefined && (page.model === undefined || model.step < (page.loss.steps[page.loss.steps.length - 1] ?? 0));
  page.run = run;
  page.model = model;
  return fresh;
}

/**
 * Add steps to the loss and speed histories, and take the latest as the progress.
 * @param points the steps, in order
 * @param epoch epochs completed at the last one
 * @param average the segment's average tokens/s
 */
export function addSteps(points: readonly StepPoint[], epoch: number, average: number): void {
  const { loss, speed } = page;
  for (const p of points) {
    loss.steps.push(p.step);
    loss.chunk.push(p.loss);
    loss.smooth.push(p.smoothLoss);
    loss.val.push(null);
    if (!Number.isNaN(p.tokensPerSec)) {
      speed.steps.push(p.step);
      speed.rate.push(p.tokensPerSec);
    }
  }
  const last = points[points.length - 1];
  if (last !== undefined) {
    const now = Number.isNaN(last.tokensPerSec) ? page.progress.now : last.tokensPerSec;
    page.progress = { step: last.step, epoch, loss: last.smoothLoss, average, now };
  }
}

/**
 * Add a validation loss at its step (a step of its own when the step was not reported).
 * @param step the step it was measured after
 * @param valLoss nats/char
 */
export function addEval(step: number, valLoss: number): void {
  const { loss } = page;
  const i = loss.steps.lastIndexOf(step);
  if (i >= 0) loss.val[i] = valLoss;
  else {
    loss.steps.push(step);
    loss.chunk.push(NaN);
    loss.smooth.push(NaN);
    loss.val.push(valLoss);
  }
}

/**
 * Add one chunk's diagnostics; past MAX_DIAG_HISTORY, every other one is dropped.
 * @param point the step and its layers' diagnostics
 */
export function addDiag(point: DiagPoint): void {
  page.diag.push(point);
  if (page.diag.length > MAX_DIAG_HISTORY) page.diag = page.diag.filter((_, i) => i % 2 === 0);
}

/** Forget the histories (a new run, a loaded checkpoint, a reset). */
export function clearHistories(): void {
  const { loss, speed } = page;
  for (const a of [loss.steps, loss.smooth, loss.chunk, loss.val, speed.steps, speed.rate]) a.length = 0;
  page.diag = [];
  page.unitPicked = false;
}
