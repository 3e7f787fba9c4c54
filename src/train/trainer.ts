/**
 * The truncated-BPTT training loop of a character-level language model, the way char-RNNs do it:
 * B parallel streams through the training text; each chunk of T steps starts from the state (h,
 * and c for the LSTM) where the previous chunk ended (the gradient is not carried: dh̄_{T+1} = 0);
 * the state is reset to zero only at epoch boundaries. Each step: forward, full BPTT over the
 * chunk, clipping, one update, on the mean loss E/(B·T) in nats per character.
 *
 * Everything that determines the next step lives in a checkpoint (parameters, optimizer state,
 * step, data position, carried state: run-state.ts), so a resumed run continues bit for bit.
 * This file does no I/O: checkpoints go to the `save` callback, progress to the event callbacks,
 * so the same loop runs in Node and in a browser worker. Its parts: options.ts (what a run takes),
 * run-state.ts (preparing a run and its checkpoints), budget.ts (when to stop), this loop.
 */
import { DivergenceError } from "../errors.ts";
import { nextPosition } from "../data/batcher.ts";
import { cloneCheckpoint, type Checkpoint } from "../io/checkpoint.ts";
import { defaultKernels } from "../kernels/index.ts";
import type { Kernels } from "../kernels/types.ts";
import { evaluateIds } from "../model/evaluate.ts";
import type { LanguageModel } from "../model/language-model.ts";
import { LmEngine, type TrainingEngine } from "../model/lm.ts";
import { sample, SAMPLE_DEFAULTS } from "../model/sample.ts";
import { createTrainingEngine, explainThreadError } from "../model/threaded.ts";
import { budgetProgress, checkBudget, RunClock, type Budget } from "./budget.ts";
import { allFinite, clipElementwise, clipGlobalNorm, globalNorm } from "./clip.ts";
import { learningRateAt } from "./optimizers.ts";
import { fillStepInput } from "./next-chunk.ts";
import { TRAIN_DEFAULTS, type TrainOptions } from "./options.ts";
import {
  carriedStateTensors, prepareRun, runCheckpoint, type BestValidation, type LiveState, type PreparedRun, type RunCadence, type SettingChange,
} from "./run-state.ts";

export { TRAIN_DEFAULTS, type TrainOptions };

/** The run is prepared and about to take its first step. */
export interface StartEvent {
  readonly type: "start";
  /** The step it starts from (0 for a new run). */
  readonly step: number;
  /** Whether it continues a checkpoint's run. */
  readonly resumed: boolean;
  /** Options of the checkpoint's run that this one sets anew (src/train/schema.ts: scope "resumable"). */
  readonly changes: readonly SettingChange[];
  /** Threads the step runs on. */
  readonly threads: number;
  /** The run's cadences (a resumed run's own, unless set anew). */
  readonly cadence: RunCadence;
  /** When it stops: the run's steps and epochs, this session's time. */
  readonly budget: Budget;
}

/** Progress after one update. */
export interface StepEvent {
  readonly type: "step";
  /** Updates made so far (this one included). */
  readonly step: number;
  /** Completed epochs, plus the fraction of the current one. */
  readonly epoch: number;
  /** Mean loss of this chunk, nats/char. */
  readonly loss: number;
  /** Exponential moving average of the loss (factor 0.99, bias-corrected), nats/char. */
  readonly smoothLoss: number;
  /** Learning rate of this update. */
  readonly lr: number;
  /** Global L2 norm of the gradient before clipping. */
  readonly gradNorm: number;
  /** Training throughput of this run so far, characters (time steps of one stream) per second. */
  readonly tokensPerSec: number;
  /** Threads the step runs on (see TrainOptions.threads). */
  readonly threads: number;
  /** Seconds since this run started. */
  readonly elapsed: number;
  /** Estimated seconds to the end of the budget, when one is set. */
  readonly eta: number | undefined;
  /** Fraction of the budget done, in [0, 1], when one is set. */
  readonly progress: number | undefined;
}

/** A validation pass. */
export interface EvalEvent {
  readonly type: "eval";
  readonly step: number;
  /** Validation loss, nats/char. */
  readonly valLoss: number;
  /** Validation bits per char. */
  readonly valBpc: number;
  /** Smoothed training loss at this point. */
  readonly trainLoss: number;
  /** Seconds the pass took. */
  readonly seconds: number;
  /** Whether this is the lowest validation loss of the run so far. */
  readonly best: boolean;
}

/** A sample drawn during training. */
export interface SampleEvent {
  readonly type: "sample";
  readonly step: number;
  readonly temperature: number;
  readonly text: string;
}

/** A checkpoint handed to `save`. */
export interface CheckpointEvent {
  readonly type: "checkpoint";
  readonly step: number;
  /** Why it was written: every checkpointEvery steps, at the end, on an interrupt, or a new lowest validation loss (keepBest). */
  readonly reason: "every" | "end" | "interrupt" | "best";
}

/** Any event of a run. */
export type TrainEvent = StartEvent | StepEvent | EvalEvent | SampleEvent | CheckpointEvent;

/** Where a run reports and what it asks. All optional. */
export interface TrainCallbacks {
  onStart?(event: StartEvent): void;
  onStep?(event: StepEvent): void;
  onEval?(event: EvalEvent): void;
  /** During a validation pass (seconds for a large model), after each chunk: the fraction done. */
  onEvalProgress?(step: number, fraction: number): void;
  onSample?(event: SampleEvent): void;
  onCheckpoint?(event: CheckpointEvent): void;
  /**
   * Persist a checkpoint (the CLI writes it atomically to --out, and one with reason "best" beside
   * it). Called before onCheckpoint; its duration counts toward the time budget.
   * The checkpoint's arrays view the live training state — no copy: for a large model the
   * parameters and optimizer state are most of the memory a run takes —, so they are valid only
   * during this call. Write them before returning, or keep `cloneCheckpoint(checkpoint)`.
   */
  save?(checkpoint: Checkpoint, reason: CheckpointEvent["reason"]): void;
  /**
   * Called after each backward pass, before clipping and the update, on a one-thread engine that
   * keeps its activations: `engine.diagnostics()` then gives the cell's view of this chunk (e.g.
   * ‖dh̄_t‖, ‖dc_t‖, gate saturation), `grads` the raw gradient (read only). For diagnostics
   * such as the playground's gradient-flow plots; keep it cheap.
   */
  inspect?(engine: TrainingEngine, grads: Float32Array, step: number): void;
  /** Polled after every step; true finishes the run (with a checkpoint) as after an interrupt. */
  shouldStop?(): boolean;
}

/** The outcome of `train`. */
export interface TrainResult {
  /** The final checkpoint (model + training state): a copy of the one given to `save` last. */
  readonly checkpoint: Checkpoint;
  /** Updates made in total. */
  readonly step: number;
  /** Validation loss at the end (nats/char), or undefined without a validation split. */
  readonly valLoss: number | undefined;
  /** The lowest validation loss of the run so far and its step (resumed runs included), or undefined without validation. */
  readonly best: BestValidation | undefined;
  /** Smoothed (bias-corrected) training loss at the end. */
  readonly trainLoss: number;
  /** Why training stopped ("patience": that many validation passes without a new lowest loss). */
  readonly stoppedBy: "steps" | "epochs" | "time" | "interrupt" | "patience";
  /** Seconds this run took, its final validation and checkpoint included. */
  readonly elapsed: number;
  /** Characters per second of training in this run. */
  readonly tokensPerSec: number;
  /** Threads the training step ran on. */
  readonly threads: number;
}

/** Longest stretch of synchronous work before yielding to the event loop (signals, UI). */
const YIELD_MS = 100;
const SMOOTHING = 0.99;

/**
 * Train (or continue training) a character-level language model.
 * @param options text, model shape, budget, optimizer, cadence; see TrainOptions
 * @param callbacks progress events, checkpoint persistence, stop requests
 * @returns the final checkpoint and summary numbers
 * @throws ConfigError for bad options; DataError for unusable text; DivergenceError when the loss or gradient becomes non-finite
 *   ThreadError when a worker thread of the step dies or stops answering (nothing is saved from that step)
 */
export async function train(options: TrainOptions, callbacks: TrainCallbacks = {}): Promise<TrainResult> {
  // parameters, gradients and optimizer state in kernel memory: the engine and Adam use them in place
  const kernels = options.kernels ?? defaultKernels();
  const run = prepareRun(options, kernels);
  try {
    const { seqLength: T, batchSize: B } = run.settings;
    // diagnostics (inspect) read one engine's activations, so they get the one-thread engine that keeps them
    const engine = callbacks.inspect === undefined
      ? await createTrainingEngine(run.config, T, B, { kernels, ...(run.settings.threads === undefined ? {} : { threads: run.settings.threads }) })
      : new LmEngine(run.config, kernels, { diagnostics: true });
    try {
      return await trainWith(run, engine, options, callbacks);
    } catch (e) {
      throw await explainThreadError(e); // a worker thread that died mid-step: with what Node then reports (e.g. out of memory)
    } finally {
      await engine.dispose(); // frees its kernel memory and ends its worker threads
    }
  } finally {
    run.release();
  }
}

/** The training loop of `train`, on an engine that `train` disposes of afterwards. */
async function trainWith(run: PreparedRun, engine: TrainingEngine, options: TrainOptions, callbacks: TrainCallbacks): Promise<TrainResult> {
  const { config, settings, optimizer, params, grads, carried, train: trainIds, val: valIds, chunks } = run;
  const { threads } = engine;
  const { seqLength: T, batchSize: B } = settings;
  // the budget in steps and epochs is the run's (a resumed run keeps it), the time this session's
  const budget = checkBudget({ ...settings.budget, ...(options.timeSeconds === undefined ? {} : { timeSeconds: options.timeSeconds }) });
  const { cadence } = run;
  const { keepBest } = cadence;
  const validateAtEnd = options.validateAtEnd ?? TRAIN_DEFAULTS.validateAtEnd;
  const saveEveryStep = options.saveEveryStep ?? TRAIN_DEFAULTS.saveEveryStep;
  const canValidate = valIds.length >= 2;
  const batch = { inputs: new Int32Array(T * B), targets: new Int32Array(T * B), T, B };
  const scale = 1 / (T * B);
  const clock = new RunClock(budget.timeSeconds, canValidate ? valIds.length - 1 : 0, T * B);

  let { step, position, smoothLoss, valLoss, best, evalsSinceBest } = run;
  const startStep = step;
  let lastYield = performance.now();
  let stoppedBy: TrainResult["stoppedBy"] | undefined;
  let lastEvalStep = -1;
  const correctedSmoothLoss = (): number => (step === 0 ? NaN : smoothLoss / (1 - SMOOTHING ** step));
  const live = (): LiveState => ({ step, position, smoothLoss, valLoss, best, evalsSinceBest });
  const model = (): LanguageModel => ({ config, vocab: run.vocab, params });
  const stateTensors = carriedStateTensors(run); // views made once: every checkpoint hands out the same arrays
  callbacks.onStart?.({ type: "start", step, resumed: options.resume !== undefined, changes: run.changes, threads, cadence, budget });

  const save = (reason: CheckpointEvent["reason"]): Checkpoint => {
    const t0 = performance.now();
    const ckpt = runCheckpoint(run, live(), stateTensors);
    callbacks.save?.(ckpt, reason);
    clock.recordSave((performance.now() - t0) / 1000);
    callbacks.onCheckpoint?.({ type: "checkpoint", step, reason });
    return ckpt;
  };
  /** A validation pass on the training engine (its threads; a shorter chunk reuses its memory), and the best-so-far bookkeeping. */
  const validate = (): void => {
    const t0 = performance.now();
    const streams = Math.min(B, Math.floor((valIds.length - 1) / T) || 1);
    const onProgress = callbacks.onEvalProgress === undefined ? undefined : (f: number): void => callbacks.onEvalProgress?.(step, f);
    const loss = evaluateIds(model(), valIds, { seqLength: T, streams, engine, ...(onProgress === undefined ? {} : { onProgress }) }).loss;
    const seconds = (performance.now() - t0) / 1000;
    clock.recordEval(seconds);
    valLoss = loss;
    lastEvalStep = step;
    const improved = best === undefined || loss < best.valLoss;
    if (improved) {
      best = { valLoss: loss, step };
      evalsSinceBest = 0;
    } else {
      evalsSinceBest++;
    }
    callbacks.onEval?.({ type: "eval", step, valLoss: loss, valBpc: loss / Math.LN2, trainLoss: correctedSmoothLoss(), seconds, best: improved });
    if (improved && keepBest) save("best");
  };

  for (;;) {
    if (budget.steps !== undefined && step >= budget.steps) stoppedBy = "steps";
    else if (budget.epochs !== undefined && position.epoch >= budget.epochs) stoppedBy = "epochs";
    else if (cadence.patience > 0 && evalsSinceBest >= cadence.patience) stoppedBy = "patience";
    else if (!clock.fitsStep(validateAtEnd && canValidate)) stoppedBy = "time";
    else if (callbacks.shouldStop?.() === true) stoppedBy = "interrupt";
    if (stoppedBy !== undefined) break;

    const t0 = performance.now();
    // the position's chunk, from the state carried within an epoch (zero at its first chunk), and
    // this step's dropout masks (D1–D2: from the run's seed and the step, so an exact resume draws the same ones)
    const dropout = fillStepInput(trainIds, settings, position, step, batch, carried);
    const loss = engine.lossAndGrads(params, grads, batch, carried, scale, dropout) * scale;
    const gradNorm = globalNorm(grads);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm) || !allFinite(grads)) {
      throw new DivergenceError(
        `training diverged at step ${step + 1}: the ${Number.isFinite(loss) ? "gradient" : "loss"} is not finite ` +
          `(loss ${loss}, gradient norm ${gradNorm}). The last checkpoint written is intact; ` +
          `try a lower --lr (now ${settings.optimizer.lr}) or gradient clipping (--clip-norm 1)`,
      );
    }
    callbacks.inspect?.(engine, grads, step + 1);
    if (settings.clip > 0) clipElementwise(grads, settings.clip);
    if (settings.clipNorm > 0) clipGlobalNorm(grads, settings.clipNorm);
    const lr = learningRateAt(settings.optimizer.lr, optimizer.stepCount, settings.schedule);
    optimizer.step(params, grads, lr);
    engine.finalState(carried);
    step++;
    position = nextPosition(position, chunks);
    smoothLoss = SMOOTHING * smoothLoss + (1 - SMOOTHING) * loss;
    clock.recordStep((performance.now() - t0) / 1000);

    const elapsed = clock.elapsed();
    const tokensPerSec = ((step - startStep) * T * B) / Math.max(elapsed, 1e-9);
    const progress = budgetProgress(budget, step, position, chunks, elapsed);
    callbacks.onStep?.({
      type: "step", step, epoch: position.epoch + position.chunk / chunks, loss, smoothLoss: correctedSmoothLoss(), lr, gradNorm,
      tokensPerSec, threads, elapsed, progress, eta: progress !== undefined && progress > 0 ? (elapsed * (1 - progress)) / progress : undefined,
    });
    if (canValidate && cadence.evalEvery > 0 && step % cadence.evalEvery === 0) {
      // a pass that would overrun the time budget is left to the end of the run, which comes now
      if (!clock.fits(clock.evalEstimate(), validateAtEnd)) {
        stoppedBy = "time";
        break;
      }
      validate();
    }
    if (cadence.sampleEvery > 0 && step % cadence.sampleEvery === 0 && run.vocab !== undefined) {
      const { temperature } = SAMPLE_DEFAULTS; // the run's samples are drawn at sampling's default temperature
      const text = sample(model(), { length: cadence.sampleLength, temperature, seed: settings.seed + step, ...kernelsOf(options) });
      callbacks.onSample?.({ type: "sample", step, temperature, text });
    }
    if (saveEveryStep || (cadence.checkpointEvery > 0 && step % cadence.checkpointEvery === 0)) save("every");
    if (performance.now() - lastYield > YIELD_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }

  const trainingSeconds = clock.elapsed(); // the throughput counts the training, not the end's validation and checkpoint
  if (validateAtEnd && canValidate && lastEvalStep !== step && (step > startStep || valLoss === undefined)) validate();
  const final = save(stoppedBy === "interrupt" ? "interrupt" : "end");
  const elapsed = clock.elapsed();
  // The engine is done: end its threads before the copy for the result, so that a worker's
  // memory (its V8 isolate, ~7 MiB) goes back to the system instead of adding to the peak.
  await engine.dispose();
  return {
    checkpoint: cloneCheckpoint(final), step, valLoss, best, trainLoss: correctedSmoothLoss(), stoppedBy, elapsed,
    tokensPerSec: ((step - startStep) * T * B) / Math.max(trainingSeconds, 1e-9), threads,
  };
}

function kernelsOf(options: TrainOptions): { kernels?: Kernels } {
  return options.kernels === undefined ? {} : { kernels: options.kernels };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
