/**
 * What a training run takes: its options, typed for the library (each field's range, default and
 * help are in the option table, src/train/schema.ts), and the defaults of a new run.
 */
import type { Corpus } from "../data/corpus.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { Kernels } from "../kernels/types.ts";
import type { CellName, Nonlinearity } from "../model/config.ts";
import type { OptimizerName, ScheduleKind } from "./optimizers.ts";
import { TRAIN_SCHEMA, type SchemaKey } from "./schema.ts";

/** The default of a schema option, typed as its kind. */
function defaultOf<T extends number | string | boolean>(key: SchemaKey): T {
  const d = TRAIN_SCHEMA[key].default;
  if (d === undefined) throw new Error(`internal: option ${key} has no plain default`);
  return d as T;
}

/** Defaults of a new run, from the option table (src/train/schema.ts); chosen for a 2-core laptop on the bundled Shakespeare (see README). */
export const TRAIN_DEFAULTS = {
  cell: defaultOf<CellName>("cell"),
  hiddenSize: defaultOf<number>("hiddenSize"),
  layers: defaultOf<number>("layers"),
  nonlinearity: defaultOf<Nonlinearity>("nonlinearity"),
  bias: defaultOf<boolean>("bias"),
  seqLength: defaultOf<number>("seqLength"),
  batchSize: defaultOf<number>("batchSize"),
  optimizer: defaultOf<OptimizerName>("optimizer"),
  clipNorm: defaultOf<number>("clipNorm"),
  clip: defaultOf<number>("clip"),
  weightDecay: defaultOf<number>("weightDecay"),
  lrSchedule: defaultOf<ScheduleKind>("lrSchedule"),
  warmup: defaultOf<number>("warmup"),
  minLrFraction: defaultOf<number>("minLrFraction"),
  lrDecay: defaultOf<number>("lrDecay"),
  lrDecayEvery: defaultOf<number>("lrDecayEvery"),
  outputDropout: defaultOf<number>("outputDropout"),
  seed: defaultOf<number>("seed"),
  valFraction: defaultOf<number>("valFraction"),
  evalEvery: defaultOf<number>("evalEvery"),
  keepBest: defaultOf<boolean>("keepBest"),
  patience: defaultOf<number>("patience"),
  sampleEvery: defaultOf<number>("sampleEvery"),
  sampleLength: defaultOf<number>("sampleLength"),
  checkpointEvery: defaultOf<number>("checkpointEvery"),
} as const;

/** Options of `train`. Fields left out take TRAIN_DEFAULTS, or, when resuming, the checkpoint's values. */
export interface TrainOptions {
  /**
   * The whole text; the first (1 − valFraction) trains, the rest validates. A string, or the text
   * already encoded as `{ ids, symbols }` (a Corpus: `readCorpusFile(path)` in Node reads a file of
   * any size that way, without the string length limit of about 2^29 characters; or `encode`'s
   * ids with their vocabulary's symbols). A string's vocabulary is its distinct code points,
   * sorted; a Corpus brings its own. When resuming, the checkpoint's vocabulary is used (a
   * Corpus's ids are mapped onto it), and the text must be the one the run was trained on.
   */
  readonly text: string | Corpus;
  /** Recurrent cell: "rnn" (the article's simple RNN), "lstm" or "gru". Default "lstm" (bench/quality.md). */
  readonly cell?: CellName;
  /** Hidden units H per layer. Default 192. */
  readonly hiddenSize?: number;
  /** Stacked layers L. Default 2. */
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
  /**
   * Stop so that this run takes at most this many seconds of wall-clock time, its validation
   * passes and final checkpoint included (the trainer measures them and stops early enough).
   * Without any budget, training runs until `shouldStop`.
   */
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
  /**
   * Dropout on the output of every layer but the last (PyTorch's `dropout` of nn.RNN/LSTM/GRU), a
   * probability in [0, 1); needs layers ≥ 2. Training only. Default 0.2 with 2+ layers, 0 with one (defaultDropout). May change when resuming.
   */
  readonly dropout?: number;
  /** Dropout on the last layer's output before the output layer (char-rnn's), in [0, 1). Default 0.2 (bench/quality.md). May change when resuming. */
  readonly outputDropout?: number;
  /** Seed of the initialisation and of the samples. Default 1. */
  readonly seed?: number;
  /** Fraction of the text held out for validation, in [0, 0.5]. Default 0.1. */
  readonly valFraction?: number;
  /**
   * Validate on the first N characters of the held-out part only (the same ones every time), to
   * bound a validation pass on a large corpus. Default: all of it. Fixed for a run.
   */
  readonly valChars?: number;
  /**
   * Hand every checkpoint with a new lowest validation loss to `save` with reason "best" (the CLI
   * writes it beside the last one). Default false.
   */
  readonly keepBest?: boolean;
  /** Stop after this many validation passes in a row without a new lowest loss; 0 = never. Default 0. */
  readonly patience?: number;
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
  /**
   * Hand every step's checkpoint to `save` (reason "every"), for a host that keeps each step's
   * state, as the playground does for its pause and its views. Not a cadence of the run: the
   * checkpoints keep the run's checkpointEvery for a later resume. Default false.
   */
  readonly saveEveryStep?: boolean;
  /** Continue this checkpoint's run (same text). */
  readonly resume?: Checkpoint;
  /** Arithmetic. Default the fastest available. */
  readonly kernels?: Kernels;
  /**
   * Threads for the training step: data-parallel over the B streams (src/model/threaded.ts),
   * WebAssembly kernels only. Default: the number of cores. Fewer are used where more do not pay
   * (`chooseThreads`: e.g. batch 1, small models), and one where no threads can be started (a
   * browser, unless a worker registered a thread host, `useThreadHost(browserThreadHost(…))`, as the playground's does)
   * or `inspect` is given. Results depend on it only through float
   * rounding; an exact resume needs the same number.
   */
  readonly threads?: number;
}
