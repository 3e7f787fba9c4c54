/**
 * The truncated-BPTT training loop of a character-level language model, the way char-RNNs do it:
 * B parallel streams through the training text; each chunk of T steps starts from the state (h, and c for the LSTM)
 * where the previous chunk ended (the gradient is not carried: dh̄_{T+1} = 0); the state is reset to
 * zero only at epoch boundaries. Each step: forward, full BPTT over the chunk, clipping, one update,
 * on the mean loss E/(B·T) in nats per character.
 *
 * Everything that determines the next step lives in a checkpoint (parameters, optimizer state,
 * step, data position, carried state), so a resumed run continues bit for bit.
 * This file does no I/O: checkpoints go to the `save` callback, progress to the event callbacks,
 * so the same loop runs in Node and in a browser worker.
 */
import { ConfigError, DataError, DivergenceError } from "../errors.ts";
import { checkBatching, fillChunk, nextPosition, parsePosition, START, type BatchPosition } from "../data/batcher.ts";
import { splitText } from "../data/text.ts";
import { buildVocab, encode, vocabFromSymbols, type TokenIds } from "../data/vocab.ts";
import { cloneCheckpoint, type Checkpoint } from "../io/checkpoint.ts";
import type { Tensor } from "../io/safetensors.ts";
import { defaultKernels } from "../kernels/index.ts";
import type { Kernels } from "../kernels/types.ts";
import { cellOf } from "../cells/index.ts";
import { validateModelConfig, type CellName, type ModelConfig, type Nonlinearity } from "../model/config.ts";
import { evaluateIds } from "../model/evaluate.ts";
import { initParams } from "../model/init.ts";
import type { LanguageModel } from "../model/language-model.ts";
import { LmEngine, type TrainingEngine } from "../model/lm.ts";
import { paramCount, paramSpecs, stateLength } from "../model/params.ts";
import { sample } from "../model/sample.ts";
import { createTrainingEngine } from "../model/threaded.ts";
import { Rng } from "../rng.ts";
import { allFinite, clipElementwise, clipGlobalNorm, globalNorm } from "./clip.ts";
import {
  defaultLearningRate, learningRateAt, Optimizer, resolveOptimizerOptions,
  type IndexRange, type OptimizerName, type ResolvedOptimizerOptions, type ScheduleKind, type ScheduleOptions,
} from "./optimizers.ts";

/** Defaults of a new run; chosen for a 2-core laptop on the bundled Shakespeare (see README). */
export const TRAIN_DEFAULTS = {
  cell: "rnn" as CellName,
  hiddenSize: 256,
  layers: 1,
  nonlinearity: "tanh" as Nonlinearity,
  bias: true,
  seqLength: 50,
  batchSize: 32,
  optimizer: "adam" as OptimizerName,
  clipNorm: 5,
  seed: 1,
  valFraction: 0.1,
  evalEvery: 500,
  sampleEvery: 0,
  sampleLength: 200,
  checkpointEvery: 1000,
} as const;

/** Options of `train`. Fields left out take TRAIN_DEFAULTS, or, when resuming, the checkpoint's values. */
export interface TrainOptions {
  /** The whole text; the first (1 − valFraction) trains, the rest validates. */
  readonly text: string;
  /** Recurrent cell: "rnn" (the article's simple RNN), "lstm" or "gru". Default "rnn". */
  readonly cell?: CellName;
  /** Hidden units H per layer. Default 256. */
  readonly hiddenSize?: number;
  /** Stacked layers L. Default 1. */
  readonly layers?: number;
  /** f1 of the simple RNN. Default "tanh" (the only choice for LSTM and GRU). */
  readonly nonlinearity?: Nonlinearity;
  /** Biases; false is the article's exact model. Default true. */
  readonly bias?: boolean;
  /** Steps T per chunk (truncation length of BPTT). Default 50. */
  readonly seqLength?: number;
  /** Parallel streams B. Default 32. */
  readonly batchSize?: number;
  /** Stop when this many updates have been made in total (counting resumed ones). */
  readonly steps?: number;
  /** Stop when this many epochs have been completed in total. */
  readonly epochs?: number;
  /** Stop after this many seconds of this run's wall-clock time. Without any budget, training runs until `shouldStop`. */
  readonly timeSeconds?: number;
  /** Update rule. Default "adam". */
  readonly optimizer?: OptimizerName;
  /** Base learning rate. Default: per optimizer (adam 2e-3). */
  readonly lr?: number;
  /**
   * Weight decay λ ≥ 0 on the weight matrices (not the biases): decoupled for adam (AdamW), L2 for
   * the other optimizers (src/train/optimizers.ts O6, O7). Default 0. May change when resuming.
   */
  readonly weightDecay?: number;
  /** Learning-rate schedule after the warmup: "step" (lrDecay every lrDecayEvery steps) or "cosine". Default "step". */
  readonly lrSchedule?: ScheduleKind;
  /** Steps of linear warmup of the learning rate. Default 0. */
  readonly warmup?: number;
  /** cosine: the step where the rate reaches its floor. Default: `steps`, when given. */
  readonly cosineSteps?: number;
  /** cosine: the floor as a fraction of lr, in [0, 1]. Default 0.1. */
  readonly minLrFraction?: number;
  /** Multiply the learning rate by this every lrDecayEvery steps. Default 1 (none). */
  readonly lrDecay?: number;
  /** Steps between decays. Default 1000. */
  readonly lrDecayEvery?: number;
  /** Clip each gradient element to [−clip, clip] (min-char-rnn). Default off. */
  readonly clip?: number;
  /** Rescale the gradient when its global L2 norm exceeds this. Default 5; 0 = off. */
  readonly clipNorm?: number;
  /** Half-width of the uniform init. Default 1/√H (PyTorch). */
  readonly initScale?: number;
  /** The LSTM's forget-gate bias at init (b_ih's f block; b_hh's is 0), e.g. 1. Default none: PyTorch's init. New runs only. */
  readonly forgetBias?: number;
  /** Seed of the initialisation and of the samples. Default 1. */
  readonly seed?: number;
  /** Fraction of the text held out for validation, in [0, 0.5]. Default 0.1. */
  readonly valFraction?: number;
  /** Steps between validation passes; 0 = only at the end. Default 500. */
  readonly evalEvery?: number;
  /** Steps between samples; 0 = never. Default 0. */
  readonly sampleEvery?: number;
  /** Characters per sample. Default 200. */
  readonly sampleLength?: number;
  /** Steps between checkpoints (given to `save`); 0 = only at the end. Default 1000. */
  readonly checkpointEvery?: number;
  /**
   * Run a validation pass when training stops, unless one just ran. Default true; false for
   * callers that stop often (a playground's pause or single step) and validate on their own cadence.
   */
  readonly validateAtEnd?: boolean;
  /** Continue this checkpoint's run (same text). */
  readonly resume?: Checkpoint;
  /** Arithmetic. Default the fastest available. */
  readonly kernels?: Kernels;
  /**
   * Threads for the training step: data-parallel over the B streams (src/model/threaded.ts), Node
   * and WebAssembly kernels only. Default: the number of cores (os.availableParallelism). Fewer are
   * used where more do not pay (`chooseThreads`: e.g. batch 1, small models), and one where worker
   * threads are missing (browsers) or `inspect` is given. Results depend on it only through float
   * rounding; an exact resume needs the same number.
   */
  readonly threads?: number;
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
  /** Why it was written. */
  readonly reason: "every" | "end" | "interrupt";
}

/** Any event of a run. */
export type TrainEvent = StepEvent | EvalEvent | SampleEvent | CheckpointEvent;

/** Where a run reports and what it asks. All optional. */
export interface TrainCallbacks {
  onStep?(event: StepEvent): void;
  onEval?(event: EvalEvent): void;
  /** During a validation pass (seconds for a large model), after each chunk: the fraction done. */
  onEvalProgress?(step: number, fraction: number): void;
  onSample?(event: SampleEvent): void;
  onCheckpoint?(event: CheckpointEvent): void;
  /**
   * Persist a checkpoint (the CLI writes it atomically to --out). Called before onCheckpoint.
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
  /** Smoothed (bias-corrected) training loss at the end. */
  readonly trainLoss: number;
  /** Why training stopped. */
  readonly stoppedBy: "steps" | "epochs" | "time" | "interrupt";
  /** Seconds this run took. */
  readonly elapsed: number;
  /** Characters per second of training in this run. */
  readonly tokensPerSec: number;
  /** Threads the training step ran on. */
  readonly threads: number;
}

/** Settings fixed for the whole run (stored in the checkpoint under metadata "train"). */
interface RunSettings {
  readonly seqLength: number;
  readonly batchSize: number;
  readonly valFraction: number;
  readonly optimizer: ResolvedOptimizerOptions;
  readonly schedule: ScheduleOptions;
  readonly clip: number;
  readonly clipNorm: number;
  readonly seed: number;
}

/** Training state that is not a tensor, stored as JSON under metadata "train". */
interface TrainState {
  readonly version: 1;
  readonly settings: RunSettings;
  readonly step: number;
  readonly position: BatchPosition;
  readonly smoothLoss: number;
  readonly valLoss: number | null;
  /** Characters (code points) of the whole text and a hash of it: a resume must use the same text. */
  readonly textChars: number;
  readonly textHash: string;
}

/** Metadata key of the training state. */
const TRAIN_KEY = "train";
/** Extra tensors holding the carried state, (L, B, H) each: h, and c for the LSTM. */
const STATE_KEYS: Readonly<Record<string, string>> = { h: "train.hidden", c: "train.cell" };
/** Longest stretch of synchronous work before yielding to the event loop (signals, UI). */
const YIELD_MS = 100;
const SMOOTHING = 0.99;

/**
 * Train (or continue training) a character-level language model.
 * @param options text, model shape, budget, optimizer, cadence; see TrainOptions
 * @param callbacks progress events, checkpoint persistence, stop requests
 * @returns the final checkpoint and summary numbers
 * @throws ConfigError for bad options; DataError for unusable text; DivergenceError when the loss or gradient becomes non-finite
 */
export async function train(options: TrainOptions, callbacks: TrainCallbacks = {}): Promise<TrainResult> {
  // parameters, gradients and optimizer state in kernel memory: the engine and Adam use them in place
  const kernels = options.kernels ?? defaultKernels();
  const run = prepareRun(options, kernels);
  try {
    const { seqLength: T, batchSize: B } = run.settings;
    // diagnostics (inspect) read one engine's activations, so they get the one-thread engine that keeps them
    const engine = callbacks.inspect === undefined
      ? await createTrainingEngine(run.config, T, B, { kernels, ...(options.threads === undefined ? {} : { threads: options.threads }) })
      : new LmEngine(run.config, kernels, { diagnostics: true });
    try {
      return await trainWith(run, engine, options, callbacks);
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
  const budget = checkBudget(options);
  const cadence = {
    evalEvery: count(options.evalEvery, TRAIN_DEFAULTS.evalEvery, "evalEvery"),
    sampleEvery: count(options.sampleEvery, TRAIN_DEFAULTS.sampleEvery, "sampleEvery"),
    sampleLength: count(options.sampleLength, TRAIN_DEFAULTS.sampleLength, "sampleLength"),
    checkpointEvery: count(options.checkpointEvery, TRAIN_DEFAULTS.checkpointEvery, "checkpointEvery"),
  };
  const inputs = new Int32Array(T * B);
  const targets = new Int32Array(T * B);
  const batch = { inputs, targets, T, B };
  const scale = 1 / (T * B);

  let { step, position, smoothLoss } = run;
  let valLoss = run.valLoss;
  const startStep = step;
  const start = now();
  let lastYield = start;
  let stoppedBy: TrainResult["stoppedBy"] | undefined;
  let lastEvalStep = -1;
  const correctedSmoothLoss = (): number => (step === 0 ? NaN : smoothLoss / (1 - SMOOTHING ** step));

  const model = (): LanguageModel => ({ config, vocab: run.vocab, params });
  // the carried state as one (L, B, H) tensor per state name (h; and c for the LSTM), views made once
  const part = config.layers * B * config.hiddenSize;
  const stateTensors = cellOf(config.cell).stateNames.map((name, s): [string, Tensor] => [
    stateKey(name), { dtype: "F32", shape: [config.layers, B, config.hiddenSize], data: carried.subarray(s * part, (s + 1) * part) },
  ]);
  // everything the next step depends on, as views of the live state (valid until the next step)
  const liveCheckpoint = (): Checkpoint => {
    const state: TrainState = {
      version: 1, settings, step, position, smoothLoss, valLoss: valLoss ?? null, textChars: run.textChars, textHash: run.textHash,
    };
    const extra = new Map<string, Tensor>();
    for (const [name, data] of optimizer.stateViews()) extra.set(name, { dtype: "F32", shape: [data.length], data });
    for (const [name, t] of stateTensors) extra.set(name, t);
    return { config, vocab: run.vocab, params, extra, metadata: { [TRAIN_KEY]: JSON.stringify(state) } };
  };
  const saveCheckpoint = (ckpt: Checkpoint, reason: CheckpointEvent["reason"]): void => {
    callbacks.save?.(ckpt, reason);
    callbacks.onCheckpoint?.({ type: "checkpoint", step, reason });
  };
  const validate = (): void => {
    if (valIds.length < 2) return;
    const t0 = now();
    // on the training engine: its threads, and no second set of activations (a shorter chunk reuses its memory)
    const streams = Math.min(B, Math.floor((valIds.length - 1) / T) || 1);
    const onProgress = callbacks.onEvalProgress === undefined ? undefined : (f: number): void => callbacks.onEvalProgress?.(step, f);
    valLoss = evaluateIds(model(), valIds, { seqLength: T, streams, engine, ...(onProgress === undefined ? {} : { onProgress }) }).loss;
    lastEvalStep = step;
    callbacks.onEval?.({ type: "eval", step, valLoss, valBpc: valLoss / Math.LN2, trainLoss: correctedSmoothLoss(), seconds: (now() - t0) / 1000 });
  };

  for (;;) {
    if (budget.steps !== undefined && step >= budget.steps) stoppedBy = "steps";
    else if (budget.epochs !== undefined && position.epoch >= budget.epochs) stoppedBy = "epochs";
    else if (budget.timeSeconds !== undefined && (now() - start) / 1000 >= budget.timeSeconds) stoppedBy = "time";
    else if (callbacks.shouldStop?.() === true) stoppedBy = "interrupt";
    if (stoppedBy !== undefined) break;

    // the state starts at zero at every epoch boundary, and is carried from chunk to chunk within an epoch
    if (position.chunk === 0) carried.fill(0);
    fillChunk(trainIds, B, T, position.chunk, inputs, targets);
    const loss = engine.lossAndGrads(params, grads, batch, carried, scale) * scale;
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
    const trainLoss = correctedSmoothLoss();

    const elapsed = (now() - start) / 1000;
    const tokensPerSec = ((step - startStep) * T * B) / Math.max(elapsed, 1e-9);
    const progress = budgetProgress(budget, step, position, chunks, elapsed);
    callbacks.onStep?.({
      type: "step", step, epoch: position.epoch + position.chunk / chunks, loss, smoothLoss: trainLoss, lr, gradNorm, tokensPerSec, threads, elapsed,
      progress, eta: progress !== undefined && progress > 0 ? (elapsed * (1 - progress)) / progress : undefined,
    });
    if (cadence.evalEvery > 0 && step % cadence.evalEvery === 0) validate();
    if (cadence.sampleEvery > 0 && step % cadence.sampleEvery === 0 && run.vocab !== undefined) {
      const temperature = 1;
      const text = sample(model(), { length: cadence.sampleLength, temperature, seed: settings.seed + step, ...kernelsOf(options) });
      callbacks.onSample?.({ type: "sample", step, temperature, text });
    }
    if (cadence.checkpointEvery > 0 && step % cadence.checkpointEvery === 0) saveCheckpoint(liveCheckpoint(), "every");
    if (now() - lastYield > YIELD_MS) {
      await yieldToEventLoop();
      lastYield = now();
    }
  }

  const elapsed = (now() - start) / 1000;
  if ((options.validateAtEnd ?? true) && lastEvalStep !== step && (step > startStep || valLoss === undefined)) validate();
  const final = liveCheckpoint();
  saveCheckpoint(final, stoppedBy === "interrupt" ? "interrupt" : "end");
  // The engine is done: end its threads before the copy for the result, so that a worker's
  // memory (its V8 isolate, ~7 MiB) goes back to the system instead of adding to the peak.
  await engine.dispose();
  return {
    checkpoint: cloneCheckpoint(final), step, valLoss, trainLoss: correctedSmoothLoss(), stoppedBy, elapsed,
    tokensPerSec: ((step - startStep) * T * B) / Math.max(elapsed, 1e-9), threads,
  };
}

/** Everything a run needs, from new options or from a checkpoint. */
interface PreparedRun {
  readonly config: ModelConfig;
  readonly vocab: readonly string[];
  readonly settings: RunSettings;
  readonly optimizer: Optimizer;
  readonly params: Float32Array;
  readonly grads: Float32Array;
  /** The state carried from chunk to chunk, (S, L, B, H): h, and c for the LSTM. */
  readonly carried: Float32Array;
  readonly train: TokenIds;
  readonly val: TokenIds;
  readonly chunks: number;
  readonly step: number;
  readonly position: BatchPosition;
  readonly smoothLoss: number;
  readonly valLoss: number | undefined;
  readonly textChars: number;
  readonly textHash: string;
  /** Give back the kernel memory of params, grads and the optimizer state. */
  readonly release: () => void;
}

function prepareRun(options: TrainOptions, kernels: Kernels): PreparedRun {
  if (typeof options.text !== "string" || options.text.length === 0) {
    throw new DataError("the training text is empty; give a text file with at least a few thousand characters");
  }
  const resume = options.resume;
  const saved = resume === undefined ? undefined : parseTrainState(resume);
  const vocabSymbols = resume === undefined ? buildVocab(options.text).symbols : resumeVocab(resume);
  const ids = encode(vocabFromSymbols(vocabSymbols), options.text);
  const textHash = hashIds(ids);
  if (saved !== undefined && (saved.textChars !== ids.length || saved.textHash !== textHash)) {
    throw new DataError(
      `the checkpoint was trained on a different text (${saved.textChars} characters, hash ${saved.textHash}); ` +
        `this one has ${ids.length} characters, hash ${textHash}. Resume with the same --data`,
    );
  }
  const settings = resolveSettings(options, saved?.settings);
  const config = resume?.config ?? newConfig(options, vocabSymbols.length);
  if (resume !== undefined) checkSameShape(options, config);
  if (resume !== undefined && options.forgetBias !== undefined) {
    throw new ConfigError("forgetBias sets the initial weights of a new run; a resumed run keeps its own. Omit --forget-bias when resuming");
  }
  const { train, val } = splitText(ids, settings.valFraction);
  const chunks = checkBatching(train.length, settings.batchSize, settings.seqLength);

  const params = kernels.allocate(paramCount(config));
  const grads = kernels.allocate(params.length);
  // weight decay applies to the weight matrices, not to the biases
  const weights = paramSpecs(config).filter((s) => s.name.includes("weight")).map((s): IndexRange => [s.offset, s.offset + s.size]);
  const optimizer = new Optimizer(settings.optimizer, params.length, kernels, weights);
  const release = (): void => {
    kernels.free(params);
    kernels.free(grads);
    optimizer.dispose();
  };
  const carried = new Float32Array(stateLength(config, settings.batchSize));
  let step = 0;
  let position: BatchPosition = START;
  try {
    if (resume === undefined || saved === undefined) {
      if (resume !== undefined) params.set(resume.params); // a model from `bptt init`: fresh training state
      else {
        initParams(params, config, new Rng(settings.seed), {
          ...(options.initScale === undefined ? {} : { scale: options.initScale }),
          ...(options.forgetBias === undefined ? {} : { forgetBias: options.forgetBias }),
        });
      }
    } else {
      params.set(resume.params);
      const state = new Map<string, Float32Array>();
      for (const [name, t] of resume.extra) if (t.data instanceof Float32Array) state.set(name, t.data);
      optimizer.loadState(state, saved.step);
      const part = carried.length / cellOf(config.cell).stateNames.length;
      cellOf(config.cell).stateNames.forEach((name, s) => {
        const t = resume.extra.get(stateKey(name));
        if (t === undefined || t.data.length !== part) {
          throw new DataError(`the checkpoint's ${stateKey(name)} tensor is missing or has the wrong size; expected ${part} values`);
        }
        carried.set(t.data, s * part);
      });
      step = saved.step;
      position = parsePosition(saved.position, chunks);
    }
  } catch (e) {
    release(); // the kernel memory above would otherwise leak
    throw e;
  }
  return {
    config, vocab: vocabSymbols, settings, optimizer, params, grads, carried, train, val, chunks, step, position,
    smoothLoss: saved?.smoothLoss ?? 0, valLoss: saved?.valLoss ?? undefined, textChars: ids.length, textHash, release,
  };
}

function newConfig(options: TrainOptions, vocabSize: number): ModelConfig {
  return validateModelConfig(
    {
      cell: options.cell ?? TRAIN_DEFAULTS.cell,
      nonlinearity: options.nonlinearity ?? TRAIN_DEFAULTS.nonlinearity,
      layers: options.layers ?? TRAIN_DEFAULTS.layers,
      hiddenSize: options.hiddenSize ?? TRAIN_DEFAULTS.hiddenSize,
      vocabSize,
      bias: options.bias ?? TRAIN_DEFAULTS.bias,
    },
    "train options",
  );
}

/** The extra tensor that holds one state tensor of the carried state. */
function stateKey(name: string): string {
  const key = STATE_KEYS[name];
  if (key === undefined) throw new Error(`internal: no checkpoint key for state ${name}`);
  return key;
}

function resumeVocab(ckpt: Checkpoint): readonly string[] {
  if (ckpt.vocab === undefined) {
    throw new DataError("the checkpoint has no vocabulary (made with --vocab-size); it cannot be trained on text. Use `bptt init --data FILE`");
  }
  return ckpt.vocab;
}

/** A resumed run keeps its model: a flag that asks for another shape is a mistake, not a wish. */
function checkSameShape(options: TrainOptions, config: ModelConfig): void {
  const asked: [string, unknown, unknown][] = [
    ["cell", options.cell, config.cell],
    ["hidden size", options.hiddenSize, config.hiddenSize],
    ["layers", options.layers, config.layers],
    ["nonlinearity", options.nonlinearity, config.nonlinearity],
    ["bias", options.bias, config.bias],
  ];
  for (const [name, want, have] of asked) {
    if (want !== undefined && want !== have) {
      throw new ConfigError(`the checkpoint's model has ${name} ${String(have)}; received ${String(want)}. Omit the flag when resuming`);
    }
  }
}

function resolveSettings(options: TrainOptions, saved: RunSettings | undefined): RunSettings {
  const fixed: [keyof RunSettings & keyof TrainOptions, unknown][] = [
    ["seqLength", options.seqLength],
    ["batchSize", options.batchSize],
    ["valFraction", options.valFraction],
  ];
  if (saved !== undefined) {
    for (const [name, value] of fixed) {
      if (value !== undefined && value !== saved[name]) {
        throw new ConfigError(
          `the checkpoint was trained with ${name} ${String(saved[name])}; received ${String(value)}. ` +
            `A resumed run keeps it (the data position depends on it): omit the flag or start a new run`,
        );
      }
    }
    if (options.optimizer !== undefined && options.optimizer !== saved.optimizer.name) {
      throw new ConfigError(`the checkpoint was trained with optimizer ${saved.optimizer.name}; received ${options.optimizer}. Omit --optimizer when resuming`);
    }
  }
  const name = saved?.optimizer.name ?? options.optimizer ?? TRAIN_DEFAULTS.optimizer;
  const optimizer = resolveOptimizerOptions({
    ...(saved?.optimizer ?? { name }),
    name,
    lr: options.lr ?? saved?.optimizer.lr ?? defaultLearningRate(name),
    weightDecay: options.weightDecay ?? saved?.optimizer.weightDecay ?? 0,
  });
  const decay = options.lrDecay ?? saved?.schedule.decay ?? 1;
  const decayEvery = options.lrDecayEvery ?? saved?.schedule.decayEvery ?? 1000;
  const kind = options.lrSchedule ?? saved?.schedule.kind ?? "step";
  const warmup = options.warmup ?? saved?.schedule.warmup ?? 0;
  const cosineSteps = options.cosineSteps ?? saved?.schedule.cosineSteps ?? options.steps;
  const minLrFraction = options.minLrFraction ?? saved?.schedule.minLrFraction ?? 0.1;
  // the whole schedule goes into the checkpoint, so a resumed run follows the same curve
  const schedule: ScheduleOptions = kind === "cosine"
    ? { kind, warmup, minLrFraction, ...(cosineSteps === undefined ? {} : { cosineSteps }) }
    : { kind, decay, decayEvery, warmup };
  learningRateAt(optimizer.lr, 0, schedule); // validates the schedule
  const clip = options.clip ?? saved?.clip ?? 0;
  const clipNorm = options.clipNorm ?? saved?.clipNorm ?? TRAIN_DEFAULTS.clipNorm;
  if (!(Number.isFinite(clip) && clip >= 0)) throw new ConfigError(`clip must be a number ≥ 0 (0 = off); received ${clip}`);
  if (!(Number.isFinite(clipNorm) && clipNorm >= 0)) throw new ConfigError(`clipNorm must be a number ≥ 0 (0 = off); received ${clipNorm}`);
  const settings: RunSettings = {
    seqLength: count(options.seqLength ?? saved?.seqLength, TRAIN_DEFAULTS.seqLength, "seqLength", 1),
    batchSize: count(options.batchSize ?? saved?.batchSize, TRAIN_DEFAULTS.batchSize, "batchSize", 1),
    valFraction: options.valFraction ?? saved?.valFraction ?? TRAIN_DEFAULTS.valFraction,
    optimizer, schedule, clip, clipNorm,
    seed: count(options.seed ?? saved?.seed, TRAIN_DEFAULTS.seed, "seed"),
  };
  return settings;
}

function checkBudget(options: TrainOptions): { steps?: number; epochs?: number; timeSeconds?: number } {
  const { steps, epochs, timeSeconds } = options;
  if (steps !== undefined) count(steps, 0, "steps");
  if (epochs !== undefined && !(Number.isFinite(epochs) && epochs > 0)) throw new ConfigError(`epochs must be a number > 0; received ${epochs}`);
  if (timeSeconds !== undefined && !(Number.isFinite(timeSeconds) && timeSeconds > 0)) {
    throw new ConfigError(`time must be a number of seconds > 0; received ${timeSeconds}`);
  }
  return {
    ...(steps === undefined ? {} : { steps }),
    ...(epochs === undefined ? {} : { epochs }),
    ...(timeSeconds === undefined ? {} : { timeSeconds }),
  };
}

/** Fraction of the tightest budget done. */
function budgetProgress(
  budget: { steps?: number; epochs?: number; timeSeconds?: number },
  step: number, position: BatchPosition, chunks: number, elapsed: number,
): number | undefined {
  const fractions: number[] = [];
  if (budget.steps !== undefined) fractions.push(step / Math.max(budget.steps, 1));
  if (budget.epochs !== undefined) fractions.push((position.epoch + position.chunk / chunks) / budget.epochs);
  if (budget.timeSeconds !== undefined) fractions.push(elapsed / budget.timeSeconds);
  return fractions.length === 0 ? undefined : Math.min(1, Math.max(...fractions));
}

function parseTrainState(ckpt: Checkpoint): TrainState | undefined {
  const raw = ckpt.metadata[TRAIN_KEY];
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new DataError(`the checkpoint's "${TRAIN_KEY}" metadata is not JSON; it cannot be resumed (train from its weights with a new run)`);
  }
  const o = value as Partial<TrainState> | null;
  const ok =
    typeof o === "object" && o !== null && o.version === 1 && typeof o.settings === "object" && o.settings !== null &&
    Number.isSafeInteger(o.step) && typeof o.textChars === "number" && typeof o.textHash === "string" &&
    typeof o.smoothLoss === "number" && typeof o.settings.optimizer === "object";
  if (!ok) throw new DataError(`the checkpoint's "${TRAIN_KEY}" metadata is malformed; it cannot be resumed`);
  return o as TrainState;
}

function count(value: number | undefined, fallback: number, name: string, min = 0): number {
  const v = value ?? fallback;
  if (!(Number.isSafeInteger(v) && v >= min)) throw new ConfigError(`${name} must be an integer ≥ ${min}; received ${v}`);
  return v;
}

function kernelsOf(options: TrainOptions): { kernels?: Kernels } {
  return options.kernels === undefined ? {} : { kernels: options.kernels };
}

/** FNV-1a over the ids: a cheap fingerprint of the text, to refuse resuming on different data. */
function hashIds(ids: TokenIds): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) {
    h ^= ids[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function now(): number {
  return performance.now();
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
