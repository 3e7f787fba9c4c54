/**
 * The state of a training run: everything the next step depends on, prepared from new options or
 * from a checkpoint, and written back into checkpoints so that a resumed run continues bit for bit.
 * The settings fixed for a run, the training state that is not a tensor (metadata "train"), and
 * the carried state's tensors (named by the cell's stateKeys: train.hidden, and train.cell for the
 * LSTM) live here.
 */
import { cellOf, type CellName } from "../cells/index.ts";
import { ConfigError, DataError } from "../errors.ts";
import { checkBatching, parsePosition, START, type BatchPosition } from "../data/batcher.ts";
import { checkCorpus, recodeCorpus } from "../data/corpus.ts";
import { splitText } from "../data/text.ts";
import { buildVocab, encode, vocabFromSymbols, type TokenIds } from "../data/vocab.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { Tensor } from "../io/safetensors.ts";
import type { Kernels } from "../kernels/types.ts";
import { validateModelConfig, type ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramCount, paramSpecs, stateLength } from "../model/params.ts";
import { checkDropout, defaultDropout, dropoutLayersProblem } from "../nn/dropout.ts";
import { keysWhere, optionProblem, pick, withDefaults, type OptionDef } from "../option-table.ts";
import { Rng } from "../rng.ts";
import {
  defaultLearningRate, learningRateAt, Optimizer, resolveOptimizerOptions,
  type IndexRange, type ResolvedOptimizerOptions, type ScheduleOptions,
} from "./optimizers.ts";
import { TRAIN_DEFAULTS, type TrainOptions } from "./options.ts";
import { checkTrainOptions, TRAIN_SCHEMA, type SchemaKey, type TrainKeysWhere, type TrainValues } from "./schema.ts";

/** Settings fixed for the whole run (stored in the checkpoint under metadata "train"). */
export interface RunSettings {
  readonly seqLength: number;
  readonly batchSize: number;
  readonly valFraction: number;
  readonly optimizer: ResolvedOptimizerOptions;
  readonly schedule: ScheduleOptions;
  readonly clip: number;
  readonly clipNorm: number;
  readonly seed: number;
  /** Characters of the held-out part a validation reads (its first ones); absent = all. */
  readonly valChars?: number;
  /** Dropout between layers and before the output layer (absent in older checkpoints: 0). */
  readonly dropout?: number;
  readonly outputDropout?: number;
  /** The run's cadences (absent in older checkpoints: the defaults). */
  readonly cadence?: RunCadence;
  /** The run's budget, counted from its start (absent: none; a resumed run given any budget replaces it). */
  readonly budget?: { readonly steps?: number; readonly epochs?: number };
  /** The threads asked for (absent: the default rule, chooseThreads). */
  readonly threads?: number;
}

/** The options of the run's cadence (the option table's group "cadence"). */
type CadenceKey = TrainKeysWhere<{ group: "cadence" }>;

/** How often a run validates, samples and checkpoints, and when it stops early: kept by a resumed run. */
export type RunCadence = Pick<typeof TRAIN_DEFAULTS, CadenceKey>;

const CADENCE_KEYS = keysWhere(TRAIN_SCHEMA, { group: "cadence" });
/** The options that shape a model (scope "model"): its config's fields. */
const MODEL_KEYS = keysWhere(TRAIN_SCHEMA, { scope: "model" });
/** The options of a run's budget: any of them given replaces a resumed run's budget as a whole. */
const BUDGET_KEYS = keysWhere(TRAIN_SCHEMA, { group: "budget" });

/** A resumable option that this run sets to another value than the checkpoint's. */
export interface SettingChange {
  readonly option: SchemaKey;
  /** The checkpoint's value (undefined: none, e.g. no budget). */
  readonly was: unknown;
  readonly now: unknown;
}

/** Training state that is not a tensor, stored as JSON under metadata "train". */
export interface TrainState {
  readonly version: 1;
  readonly settings: RunSettings;
  readonly step: number;
  readonly position: BatchPosition;
  readonly smoothLoss: number;
  readonly valLoss: number | null;
  /** Characters (code points) of the whole text and a hash of it: a resume must use the same text. */
  readonly textChars: number;
  readonly textHash: string;
  /** The lowest validation loss so far and its step (absent in checkpoints older than keep-best). */
  readonly best?: BestValidation | null;
  /** Validation passes since the best one (for patience). */
  readonly evalsSinceBest?: number;
}

/** Metadata key of the training state. */
export const TRAIN_KEY = "train";

/** Everything a run needs, from new options or from a checkpoint; its LiveState fields are where it starts. */
export interface PreparedRun extends LiveState {
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
  readonly textChars: number;
  readonly textHash: string;
  /** The run's cadences, resolved (settings.cadence). */
  readonly cadence: RunCadence;
  /** Resumable options given anew that differ from the checkpoint's (empty for a new run). */
  readonly changes: readonly SettingChange[];
  /** Give back the kernel memory of params, grads and the optimizer state. */
  readonly release: () => void;
}

/**
 * Prepare a run: the text encoded and split, the settings resolved (from the options, else the
 * checkpoint's, else the defaults), parameters, gradients and optimizer state in kernel memory,
 * initialised or restored.
 * @param options the run's options
 * @param kernels where parameters, gradients and optimizer state live
 * @returns the run; call its `release()` when done
 * @throws ConfigError for bad options or options a resumed run cannot change; DataError for unusable text or a checkpoint of another text
 */
export function prepareRun(options: TrainOptions, kernels: Kernels): PreparedRun {
  checkTrainOptions(options); // every option's type and range, from the option table
  const resume = options.resume;
  const saved = resume === undefined ? undefined : parseTrainState(resume);
  const { ids, symbols: vocabSymbols } = runText(options.text, resume);
  const textHash = hashIds(ids);
  if (saved !== undefined && (saved.textChars !== ids.length || saved.textHash !== textHash)) {
    throw new DataError(
      `the checkpoint was trained on a different text (${saved.textChars} characters, hash ${saved.textHash}); ` +
        `this one has ${ids.length} characters, hash ${textHash}. Resume with the same --data`,
    );
  }
  const config = resume?.config ?? newConfig(options, vocabSymbols.length);
  if (resume !== undefined) checkKept(options, config, saved?.settings);
  const settings = resolveSettings(options, saved?.settings, config.layers);
  const changes = saved === undefined ? [] : settingChanges(options, config, saved.settings, settings);
  const layersProblem = dropoutLayersProblem(settings.dropout ?? 0, config.layers);
  if (layersProblem !== undefined) throw new ConfigError(`dropout ${settings.dropout}: ${layersProblem} (--layers, --output-dropout)`);
  const split = splitText(ids, settings.valFraction);
  const { train } = split;
  // the first valChars characters of the held-out part, the same ones at every validation
  const val = settings.valChars === undefined ? split.val : split.val.subarray(0, settings.valChars);
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
        const t = resume.extra.get(stateKey(config.cell, name));
        if (t === undefined || t.data.length !== part) {
          throw new DataError(`the checkpoint's ${stateKey(config.cell, name)} tensor is missing or has the wrong size; expected ${part} values`);
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
    smoothLoss: saved?.smoothLoss ?? 0, valLoss: saved?.valLoss ?? undefined, best: saved?.best ?? undefined,
    evalsSinceBest: saved?.evalsSinceBest ?? 0, textChars: ids.length, textHash, cadence: resolvedCadence(settings), changes, release,
  };
}

/**
 * The run's text as ids and their vocabulary: a string encoded (its own vocabulary, or the resumed
 * checkpoint's), a Corpus checked and, when resuming, its ids expressed in the checkpoint's vocabulary.
 */
export function runText(text: TrainOptions["text"], resume: Checkpoint | undefined): { ids: TokenIds; symbols: readonly string[] } {
  if (typeof text === "string") {
    if (text.length === 0) throw new DataError("the training text is empty; give a text file with at least a few thousand characters");
    const symbols = resume === undefined ? buildVocab(text).symbols : resumeVocab(resume);
    return { ids: encode(vocabFromSymbols(symbols), text), symbols };
  }
  if (typeof text !== "object" || text === null) {
    throw new DataError(`the training text: expected a string or { ids, symbols } (a Corpus); received ${text === null ? "null" : typeof text}`);
  }
  const vocab = checkCorpus(text, "the training text");
  if (resume === undefined) return { ids: text.ids, symbols: vocab.symbols };
  const symbols = resumeVocab(resume);
  return { ids: recodeCorpus(text, vocabFromSymbols(symbols)), symbols };
}

/** A new run's model: the options that shape it (scope "model"), as given or the table's defaults. */
function newConfig(options: TrainOptions, vocabSize: number): ModelConfig {
  return validateModelConfig({ ...withDefaults(pick(TRAIN_DEFAULTS, MODEL_KEYS), pick(options, MODEL_KEYS)), vocabSize }, "train options");
}

/**
 * The extra tensor that holds one state tensor of the carried state, (L, B, H): the cell's (its `stateKeys`).
 * @param cell the model's cell
 * @param name one of the cell's stateNames
 */
export function stateKey(cell: CellName, name: string): string {
  const { stateNames, stateKeys } = cellOf(cell);
  const s = stateNames.indexOf(name);
  if (s < 0) throw new Error(`internal: cell ${cell} has no state ${name}`);
  return stateKeys[s];
}

function resumeVocab(ckpt: Checkpoint): readonly string[] {
  if (ckpt.vocab === undefined) {
    throw new DataError("the checkpoint has no vocabulary (made with --vocab-size); it cannot be trained on text. Use `bptt init --data FILE`");
  }
  return ckpt.vocab;
}

/**
 * A resumed run keeps what the option table (src/train/schema.ts) says it keeps: its model's shape
 * and the settings fixed for the run; a value that differs is a mistake, not a wish. Every such
 * option given is named in one message. The options that set the initial weights are refused.
 * @param saved the checkpoint's settings, or undefined for a model without training state (`bptt init`): only its shape is kept
 * @throws ConfigError naming each option, the checkpoint's value and the one received
 */
function checkKept(options: TrainOptions, config: ModelConfig, saved: RunSettings | undefined): void {
  const problems: string[] = [];
  for (const key of Object.keys(TRAIN_SCHEMA) as SchemaKey[]) {
    const def = TRAIN_SCHEMA[key];
    const given: unknown = options[key];
    if (given === undefined) continue;
    if (def.scope === "init") {
      problems.push(`${key} (--${def.flag}) sets the initial weights of a new run; received ${String(given)}`);
    } else if (def.scope === "model" || (def.scope === "run" && saved !== undefined)) {
      const kept = storedValue(key, config, saved);
      if (given !== kept) problems.push(`${key} (--${def.flag}) is ${String(kept)} in the checkpoint; received ${String(given)}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(
      `a resumed run keeps its model and the settings fixed for its run (the data position, the random streams and the comparison ` +
        `of validation losses depend on them): ${problems.join("; ")}. Omit ${problems.length > 1 ? "these options" : "this option"} when resuming, or start a new run`,
    );
  }
}

/** Resumable options given anew whose value differs from the checkpoint's (the run says so). */
function settingChanges(options: TrainOptions, config: ModelConfig, saved: RunSettings, now: RunSettings): SettingChange[] {
  const changes: SettingChange[] = [];
  for (const key of keysWhere(TRAIN_SCHEMA, { scope: "resumable" })) {
    const def: OptionDef = TRAIN_SCHEMA[key];
    const given = def.group === "budget" ? budgetGiven(options) : options[key] !== undefined;
    if (!given) continue;
    const was = storedValue(key, config, saved);
    const value = storedValue(key, config, now);
    if (was !== value) changes.push({ option: key, was, now: value });
  }
  return changes;
}

/**
 * An option's value as a checkpoint stores it: the model's shape in its config, the rest in the
 * settings of its training state (older checkpoints lack some: their defaults stand in).
 * @param settings undefined for a model without training state
 * @returns the value, or undefined where the checkpoint holds none (no budget, the default threads, a session option)
 */
function storedValue(key: SchemaKey, config: ModelConfig, settings: RunSettings | undefined): unknown {
  switch (key) {
    case "cell": case "hiddenSize": case "layers": case "nonlinearity": case "bias":
      return config[key];
    case "seqLength": case "batchSize": case "valFraction": case "valChars": case "seed": case "clip": case "clipNorm": case "threads":
      return settings?.[key];
    case "dropout": case "outputDropout":
      return settings === undefined ? undefined : (settings[key] ?? 0);
    case "optimizer":
      return settings?.optimizer.name;
    case "lr": case "weightDecay":
      return settings?.optimizer[key];
    case "lrSchedule":
      return settings === undefined ? undefined : (settings.schedule.kind ?? TRAIN_DEFAULTS.lrSchedule);
    case "warmup": case "cosineSteps": case "minLrFraction":
      return settings?.schedule[key];
    case "lrDecay":
      return settings?.schedule.decay;
    case "lrDecayEvery":
      return settings?.schedule.decayEvery;
    case "steps": case "epochs":
      return settings?.budget?.[key];
    case "evalEvery": case "checkpointEvery": case "keepBest": case "patience": case "sampleEvery": case "sampleLength":
      return settings === undefined ? undefined : resolvedCadence(settings)[key];
    case "timeSeconds": case "initScale": case "forgetBias":
      return undefined; // never stored
    default: {
      const unplaced: never = key; // a new option of the table must say here where a checkpoint keeps it
      throw new Error(`internal: option ${String(unplaced)} has no place in a checkpoint`);
    }
  }
}

/** A run's cadences: its settings', or for a checkpoint older than them the defaults. */
function resolvedCadence(settings: RunSettings): RunCadence {
  return settings.cadence ?? pick(TRAIN_DEFAULTS, CADENCE_KEYS);
}

/** Whether any option of the budget is given (then it replaces a resumed run's as a whole). */
function budgetGiven(options: TrainOptions): boolean {
  return BUDGET_KEYS.some((key) => options[key] !== undefined);
}

/**
 * The options a checkpoint stores, as the option table types them: its model's shape, and the
 * settings of its run when it has a training state (a value that is not valid for its option, from
 * a hand-edited file, is left out). For a host that shows a checkpoint's settings.
 * @param ckpt a checkpoint
 * @returns the options it holds values of
 */
export function checkpointOptions(ckpt: Checkpoint): TrainValues {
  let settings: RunSettings | undefined;
  try {
    settings = parseTrainState(ckpt)?.settings;
  } catch {
    settings = undefined; // malformed training state: the model's shape only (a resume reports it)
  }
  const out = new Map<string, unknown>();
  for (const key of Object.keys(TRAIN_SCHEMA) as SchemaKey[]) {
    const value = storedValue(key, ckpt.config, settings);
    if (value !== undefined && optionProblem(TRAIN_SCHEMA[key], value) === undefined) out.set(key, value);
  }
  // each value passed its option's check just above
  return Object.fromEntries(out) as TrainValues;
}

/**
 * The run's settings: each option as given, else the checkpoint's, else the default (checkKept has
 * refused a given value that differs from a kept one).
 */
function resolveSettings(options: TrainOptions, saved: RunSettings | undefined, layers: number): RunSettings {
  const name = saved?.optimizer.name ?? options.optimizer ?? TRAIN_DEFAULTS.optimizer;
  const optimizer = resolveOptimizerOptions({
    ...(saved?.optimizer ?? { name }),
    name,
    lr: options.lr ?? saved?.optimizer.lr ?? defaultLearningRate(name),
    weightDecay: options.weightDecay ?? saved?.optimizer.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
  });
  const decay = options.lrDecay ?? saved?.schedule.decay ?? TRAIN_DEFAULTS.lrDecay;
  const decayEvery = options.lrDecayEvery ?? saved?.schedule.decayEvery ?? TRAIN_DEFAULTS.lrDecayEvery;
  const kind = options.lrSchedule ?? saved?.schedule.kind ?? TRAIN_DEFAULTS.lrSchedule;
  const warmup = options.warmup ?? saved?.schedule.warmup ?? TRAIN_DEFAULTS.warmup;
  // the budget: a resumed run given none keeps its own; given any (--time too), it is replaced as a whole
  const budget = budgetGiven(options) || saved === undefined
    ? { ...(options.steps === undefined ? {} : { steps: options.steps }), ...(options.epochs === undefined ? {} : { epochs: options.epochs }) }
    : (saved.budget ?? {});
  const cosineSteps = options.cosineSteps ?? saved?.schedule.cosineSteps ?? budget.steps;
  const minLrFraction = options.minLrFraction ?? saved?.schedule.minLrFraction ?? TRAIN_DEFAULTS.minLrFraction;
  // the whole schedule goes into the checkpoint, so a resumed run follows the same curve
  const schedule: ScheduleOptions = kind === "cosine"
    ? { kind, warmup, minLrFraction, ...(cosineSteps === undefined ? {} : { cosineSteps }) }
    : { kind, decay, decayEvery, warmup };
  learningRateAt(optimizer.lr, 0, schedule); // validates the schedule
  const clip = options.clip ?? saved?.clip ?? TRAIN_DEFAULTS.clip;
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
  // a run saved before dropout existed had none: it resumes without, not with today's defaults
  const dropout = options.dropout ?? (saved === undefined ? defaultDropout(layers) : (saved.dropout ?? 0));
  const outputDropout = options.outputDropout ?? (saved === undefined ? TRAIN_DEFAULTS.outputDropout : (saved.outputDropout ?? 0));
  checkDropout(dropout, outputDropout);
  const valChars = options.valChars ?? saved?.valChars;
  // each cadence option as given, else the checkpoint's, else the default; in the order checkpoints
  // have stored them since cadences were stored (their bytes stay the same), which differs from the table's
  const was = saved === undefined ? pick(TRAIN_DEFAULTS, CADENCE_KEYS) : resolvedCadence(saved);
  const given = withDefaults(was, pick(options, CADENCE_KEYS));
  const cadence: RunCadence = {
    evalEvery: given.evalEvery, checkpointEvery: given.checkpointEvery, keepBest: given.keepBest,
    patience: given.patience, sampleEvery: given.sampleEvery, sampleLength: given.sampleLength,
  };
  const threads = options.threads ?? saved?.threads;
  return {
    ...settings, dropout, outputDropout,
    ...(valChars === undefined ? {} : { valChars: count(valChars, 0, "valChars", 2) }),
    cadence, budget, ...(threads === undefined ? {} : { threads }),
  };
}


/** The lowest validation loss of a run and its step. */
export interface BestValidation {
  readonly valLoss: number;
  readonly step: number;
}

/** The parts of a run that change from step to step. */
export interface LiveState {
  readonly step: number;
  readonly position: BatchPosition;
  readonly smoothLoss: number;
  readonly valLoss: number | undefined;
  readonly best: BestValidation | undefined;
  /** Validation passes since the best one (for patience). */
  readonly evalsSinceBest: number;
}

/**
 * A checkpoint of everything the next step depends on, as views of the live arrays (valid until
 * the next step: see TrainCallbacks.save).
 * @param run the prepared run (parameters, optimizer state, carried state)
 * @param live step, data position and the other numbers of the training state
 * @param stateTensors the carried state's tensors (`carriedStateTensors(run)`, made once)
 * @returns the checkpoint
 */
export function runCheckpoint(run: PreparedRun, live: LiveState, stateTensors: readonly [string, Tensor][]): Checkpoint {
  const state: TrainState = {
    version: 1, settings: run.settings, step: live.step, position: live.position, smoothLoss: live.smoothLoss,
    valLoss: live.valLoss ?? null, textChars: run.textChars, textHash: run.textHash, best: live.best ?? null,
    evalsSinceBest: live.evalsSinceBest,
  };
  const extra = new Map<string, Tensor>();
  for (const [name, data] of run.optimizer.stateViews()) extra.set(name, { dtype: "F32", shape: [data.length], data });
  for (const [name, t] of stateTensors) extra.set(name, t);
  return { config: run.config, vocab: run.vocab, params: run.params, extra, metadata: { [TRAIN_KEY]: JSON.stringify(state) } };
}

/**
 * The carried state as one (L, B, H) tensor per state name (h; and c for the LSTM), viewing `run.carried`.
 * @param run the prepared run
 * @returns [checkpoint name, tensor] pairs
 */
export function carriedStateTensors(run: PreparedRun): [string, Tensor][] {
  const { config, carried } = run;
  const B = run.settings.batchSize;
  const part = config.layers * B * config.hiddenSize;
  return cellOf(config.cell).stateNames.map((name, s): [string, Tensor] => [
    stateKey(config.cell, name), { dtype: "F32", shape: [config.layers, B, config.hiddenSize], data: carried.subarray(s * part, (s + 1) * part) },
  ]);
}

/**
 * @param ckpt a checkpoint
 * @returns the step it was saved at, or undefined when it holds no valid training state (e.g. from `bptt init`)
 */
export function checkpointStep(ckpt: Checkpoint): number | undefined {
  try {
    return parseTrainState(ckpt)?.step;
  } catch {
    return undefined; // a run resuming it reports the malformed metadata
  }
}

export function parseTrainState(ckpt: Checkpoint): TrainState | undefined {
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

/**
 * An integer option, or its default.
 * @returns the value
 * @throws ConfigError when it is not a safe integer ≥ min
 */
export function count(value: number | undefined, fallback: number, name: string, min = 0): number {
  const v = value ?? fallback;
  if (!(Number.isSafeInteger(v) && v >= min)) throw new ConfigError(`${name} must be an integer ≥ ${min}; received ${v}`);
  return v;
}

/** FNV-1a over the ids: a cheap fingerprint of the text, to refuse resuming on different data (the same for a string and its Corpus). */
export function hashIds(ids: TokenIds): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < ids.length; i++) {
    h ^= ids[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}
