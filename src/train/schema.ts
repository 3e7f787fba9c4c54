/**
 * Every option of a training run, defined once (src/option-table.ts says what an entry holds):
 * its type, range, default, scope, flag, doc and one line of help. From this table come
 * TrainOptions' option fields and TRAIN_DEFAULTS (src/train/options.ts), the library's checks
 * (`checkTrainOptions`), the `bptt train` flags and their help text (src/cli/commands/train.ts),
 * the playground's fields, checks and locks (web/src/settings.ts, web/src/form.ts) and what a
 * resumed run keeps (src/train/run-state.ts): they can no longer disagree.
 */
import { CELL_NAMES } from "../cells/index.ts";
import { MAX_HIDDEN, MAX_LAYERS, NONLINEARITIES } from "../model/config.ts";
import { checkOptions, SEED, type FlaggedTable, type KeysWhere, type OptionDef, type OptionTable, type OptionValues } from "../option-table.ts";
import { OPTIMIZERS, SCHEDULE_SCHEMA } from "./optimizers.ts";

export {
  helpLine, optionProblem, parseOptionText,
  type ChoiceOption, type FlagOption, type IntOption, type NumberOption, type OptionDef, type OptionScope,
} from "../option-table.ts";

const COUNT = Number.MAX_SAFE_INTEGER;

/**
 * Every option of a run that `bptt train` has a flag for, in the order `--help` lists them. Each
 * entry's doc comment is the doc of its TrainOptions field.
 */
export const TRAIN_SCHEMA = {
  /** Recurrent cell: "rnn" (the article's simple RNN), "lstm" or "gru" (bench/quality.md: why lstm). */
  cell: { kind: "choice", flag: "cell", scope: "model", value: "C", choices: CELL_NAMES, default: "lstm", help: "recurrent cell (rnn: the article's simple RNN; lstm, gru as PyTorch's; bench/quality.md: why lstm)" },
  /** Hidden units H per layer. */
  hiddenSize: { kind: "int", flag: "hidden", scope: "model", value: "H", min: 1, max: MAX_HIDDEN, default: 192, help: "hidden units per layer" },
  /** Stacked layers L. */
  layers: { kind: "int", flag: "layers", scope: "model", value: "L", min: 1, max: MAX_LAYERS, default: 2, help: "stacked recurrent layers" },
  /** f1 of the simple RNN (the only choice of LSTM and GRU is tanh). */
  nonlinearity: { kind: "choice", flag: "nonlinearity", scope: "model", value: "F", choices: NONLINEARITIES, default: "tanh", help: "f1 of the simple RNN (lstm and gru: tanh only)" },
  /** Biases; false is the article's exact model. */
  bias: { kind: "flag", flag: "no-bias", scope: "model", default: true, help: "no bias tensors at all: the article's exact model" },
  /** Steps T per chunk (truncation length of BPTT). */
  seqLength: { kind: "int", flag: "seq-length", scope: "run", value: "T", min: 1, max: 100_000, default: 50, help: "BPTT steps per chunk" },
  /** Parallel streams B. */
  batchSize: { kind: "int", flag: "batch-size", scope: "run", value: "B", min: 1, max: 100_000, default: 32, help: "parallel streams" },
  /** Stop when this many updates have been made in total (counting resumed ones). */
  steps: { kind: "int", flag: "steps", scope: "resumable", group: "budget", value: "N", min: 0, max: COUNT, help: "stop after N updates in total" },
  /** Stop when this many epochs have been completed in total. */
  epochs: { kind: "number", flag: "epochs", scope: "resumable", group: "budget", value: "N", min: 0, minOpen: true, max: 1e9, help: "stop after N passes over the training text in total" },
  /**
   * Stop so that this run takes at most this many seconds of wall-clock time, its validation
   * passes and final checkpoint included (the trainer measures them and stops early enough).
   * Without any budget, training runs until `shouldStop`.
   */
  timeSeconds: { kind: "number", flag: "time", scope: "session", group: "budget", value: "SECONDS", min: 0, minOpen: true, max: 1e9, help: "finish within this much wall-clock time, validation and the final checkpoint included" },
  /** Update rule. */
  optimizer: { kind: "choice", flag: "optimizer", scope: "run", value: "NAME", choices: OPTIMIZERS, default: "adam", help: "update rule" },
  /** Base learning rate (its default depends on the optimizer: `defaultLearningRate`). */
  lr: { kind: "number", flag: "lr", scope: "resumable", value: "RATE", min: 0, minOpen: true, max: 1e12, defaultText: "adam/rmsprop 2e-3, adagrad 0.1, sgd 0.1, momentum 0.01", help: "learning rate" },
  /**
   * Weight decay λ ≥ 0 on the weight matrices (not the biases): decoupled for adam (AdamW), L2 for
   * the other optimizers (src/train/optimizers.ts O6, O7).
   */
  weightDecay: { kind: "number", flag: "weight-decay", scope: "resumable", value: "L", min: 0, max: 1e9, default: 0, help: "weight decay on the weight matrices, not the biases: AdamW's for adam, L2 for the others" },
  ...SCHEDULE_SCHEMA,
  /** Clip each gradient element to [−clip, clip] (min-char-rnn); 0 = off. */
  clip: { kind: "number", flag: "clip", scope: "resumable", value: "C", min: 0, max: 1e9, default: 0, help: "clip every gradient element to [-C, C] (0: off)" },
  /** Rescale the gradient when its global L2 norm exceeds this; 0 = off. */
  clipNorm: { kind: "number", flag: "clip-norm", scope: "resumable", value: "C", min: 0, max: 1e9, default: 5, help: "rescale the gradient to global norm C when larger (0: off)" },
  /**
   * Dropout on the output of every layer but the last (PyTorch's `dropout` of nn.RNN/LSTM/GRU), a
   * probability in [0, 1); needs layers ≥ 2. Training only. Its default depends on the layers (defaultDropout).
   */
  dropout: { kind: "number", flag: "dropout", scope: "resumable", value: "P", min: 0, max: 1, maxOpen: true, defaultText: "0.2 with 2+ layers, 0 with one", help: "dropout on every layer's output but the last (PyTorch's; needs --layers 2+), training only" },
  /** Dropout on the last layer's output before the output layer (char-rnn's), in [0, 1) (bench/quality.md). */
  outputDropout: { kind: "number", flag: "output-dropout", scope: "resumable", value: "P", min: 0, max: 1, maxOpen: true, default: 0.2, help: "dropout on the last layer's output before the output layer (char-rnn's), training only (0: off)" },
  /** Half-width of the uniform init (default 1/√H, PyTorch's). New runs only. */
  initScale: { kind: "number", flag: "init-scale", scope: "init", value: "S", min: 0, max: 1e3, defaultText: "1/sqrt(H), PyTorch's", help: "uniform init half-width" },
  /** The LSTM's forget-gate bias at init (b_ih's f block; b_hh's is 0), e.g. 1 (default none: PyTorch's init). New runs only. */
  forgetBias: { kind: "number", flag: "forget-bias", scope: "init", value: "B", min: -1e3, max: 1e3, defaultText: "PyTorch's uniform init", help: "LSTM: start the forget gate's bias at B, e.g. 1" },
  /** Seed of the initialisation, the dropout masks and the samples. */
  seed: { ...SEED, scope: "run", help: "random seed of the init, the dropout masks and the samples" },
  /** Fraction of the text held out for validation (its end), in [0, 0.5]. */
  valFraction: { kind: "number", flag: "val-fraction", scope: "run", value: "F", min: 0, max: 0.5, default: 0.1, help: "held-out fraction at the end of the text" },
  /**
   * Validate on the first N characters of the held-out part only (the same ones every time), to
   * bound a validation pass on a large corpus (default: all of it).
   */
  valChars: { kind: "int", flag: "val-chars", scope: "run", value: "N", min: 2, max: COUNT, defaultText: "all of it", help: "validate on the first N characters of the held-out part only" },
  /** Steps between validation passes; 0 = only at the end. */
  evalEvery: { kind: "int", flag: "eval-every", scope: "resumable", group: "cadence", value: "N", min: 0, max: COUNT, default: 500, help: "steps between validation passes (0: at the end)" },
  /**
   * Hand every checkpoint with a new lowest validation loss to `save` with reason "best" (the CLI
   * writes it beside the last one).
   */
  keepBest: { kind: "flag", flag: "keep-best", scope: "resumable", group: "cadence", default: false, help: "also write the checkpoint with the lowest validation loss, to OUT.best.safetensors" },
  /** Stop after this many validation passes in a row without a new lowest loss; 0 = never. */
  patience: { kind: "int", flag: "patience", scope: "resumable", group: "cadence", value: "N", min: 0, max: COUNT, default: 0, help: "stop after N validations in a row without a new lowest loss (0: never)" },
  /** Steps between samples; 0 = never (the CLI samples at the end). */
  sampleEvery: { kind: "int", flag: "sample-every", scope: "resumable", group: "cadence", value: "N", min: 0, max: COUNT, default: 0, help: "steps between samples (0: only at the end)" },
  /** Characters per sample. */
  sampleLength: { kind: "int", flag: "sample-length", scope: "resumable", group: "cadence", value: "N", min: 0, max: 1_000_000, default: 200, help: "characters per sample" },
  /** Steps between checkpoints (given to `save`); 0 = only at the end. */
  checkpointEvery: { kind: "int", flag: "checkpoint-every", scope: "resumable", group: "cadence", value: "N", min: 0, max: COUNT, default: 1000, help: "steps between checkpoints (0: at the end)" },
  /**
   * Threads for the training step: data-parallel over the B streams (src/model/threaded.ts),
   * WebAssembly kernels only. Default: the number of cores. Fewer are used where more do not pay
   * (`chooseThreads`: e.g. batch 1, small models), and one where no threads can be started (a
   * browser, unless a worker registered a thread host, `useThreadHost(browserThreadHost(…))`, as the playground's does)
   * or `inspect` is given. Results depend on it only through float rounding; an exact resume needs the same number.
   */
  threads: { kind: "int", flag: "threads", scope: "resumable", value: "N", min: 1, max: 1024, defaultText: "the number of cores; fewer where more do not pay, e.g. --batch-size 1", help: "threads for the training step, data-parallel over the batch" },
} as const satisfies FlaggedTable;

/** Options of a run that only a host program sets (no flag, never stored): how it drives the loop. */
export const HOST_SCHEMA = {
  /**
   * Run a validation pass when training stops, unless one just ran; false for callers that stop
   * often (a playground's pause or single step) and validate on their own cadence.
   */
  validateAtEnd: { kind: "flag", scope: "session", default: true, help: "validate when training stops, unless a pass just ran" },
  /**
   * Hand every step's checkpoint to `save` (reason "every"), for a host that keeps each step's
   * state, as the playground does for its pause and its views. Not a cadence of the run: the
   * checkpoints keep the run's checkpointEvery for a later resume.
   */
  saveEveryStep: { kind: "flag", scope: "session", default: false, help: "hand every step's checkpoint to save" },
} as const satisfies OptionTable;

/** The name of an option of a run that has a flag (TRAIN_SCHEMA's; HOST_SCHEMA's are a host program's). */
export type SchemaKey = keyof typeof TRAIN_SCHEMA;

/** The values of a run's options, each optional and typed by its entry (TrainOptions holds them, src/train/options.ts). */
export type TrainValues = OptionValues<typeof TRAIN_SCHEMA> & OptionValues<typeof HOST_SCHEMA>;

/** The options whose entries match `P`, e.g. `TrainKeysWhere<{ scope: "model" }>`. */
export type TrainKeysWhere<P> = KeysWhere<typeof TRAIN_SCHEMA, P>;

/**
 * Whether a resumed run refuses another value of an option (its scope is "model", "run" or "init"):
 * the playground locks such a field while it has a model.
 * @param def the option
 * @returns true when the option may not change on resume
 */
export function keptOnResume(def: OptionDef): boolean {
  return def.scope === "model" || def.scope === "run" || def.scope === "init";
}

/**
 * Check every option a caller gave (the library's side of the table).
 * @param options training options
 * @throws ConfigError naming the first option out of range, e.g. "hiddenSize: expected an integer in [1, 16384]; received 0"
 */
export function checkTrainOptions(options: TrainValues): void {
  checkOptions(TRAIN_SCHEMA, options);
  checkOptions(HOST_SCHEMA, options);
}


