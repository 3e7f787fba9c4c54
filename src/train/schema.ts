/**
 * Every option of a training run, defined once: its type, range, default, unit and one line of
 * help. From this table come the library's checks of TrainOptions (`checkTrainOptions`), the
 * `bptt train` flags and their help text (src/cli/commands/train.ts), and the playground's field
 * checks and inline messages (web/src/settings.ts): the three can no longer disagree.
 *
 * Written by hand rather than with a validation library: the table is also a CLI and a form
 * description (flag names, value names, help lines, page limits), which a schema library would
 * carry only as opaque metadata, and the checks are simple ranges.
 */
import { CELL_NAMES } from "../cells/index.ts";
import { ConfigError } from "../errors.ts";
import { MAX_HIDDEN, MAX_LAYERS, NONLINEARITIES } from "../model/config.ts";
import { OPTIMIZERS, SCHEDULES } from "./optimizers.ts";
import type { TrainOptions } from "./options.ts";

/**
 * What a resumed run does with an option (one rule for the library, the CLI and the page):
 * - "model": part of the model's shape; a resumed run has the checkpoint's, and another value is refused;
 * - "run": fixed for the whole run and stored in the checkpoint; another value is refused;
 * - "init": sets the initial weights of a new run, not stored; refused when resuming;
 * - "resumable": stored in the checkpoint and kept by a resumed run, unless given again (then the
 *   run says what changed); the budget (steps, epochs, with time) is replaced as a whole when any
 *   of it is given;
 * - "session": this session only (e.g. its wall-clock budget); never stored.
 */
export type OptionScope = "model" | "run" | "init" | "resumable" | "session";

/** What every option has. */
interface Common {
  /** The CLI flag, without "--". */
  readonly flag: string;
  /** What a resumed run does with it. */
  readonly scope: OptionScope;
  /** One line of help, without the default (it is appended). */
  readonly help: string;
  /** The value's name in `--help`, e.g. "N". */
  readonly value?: string;
  /** What the default is when it is not a plain value, e.g. "per optimizer: adam 2e-3". */
  readonly defaultText?: string;
}

/** An integer in [min, max]. */
export interface IntOption extends Common {
  readonly kind: "int";
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}

/** A number in [min, max] (or with open ends). */
export interface NumberOption extends Common {
  readonly kind: "number";
  readonly min: number;
  readonly max: number;
  /** min itself is not allowed. */
  readonly minOpen?: boolean;
  /** max itself is not allowed. */
  readonly maxOpen?: boolean;
  readonly default?: number;
}

/** One of fixed strings. */
export interface ChoiceOption extends Common {
  readonly kind: "choice";
  readonly choices: readonly string[];
  readonly default?: string;
}

/** A boolean; the CLI flag turns the default around (e.g. --no-bias for bias: true). */
export interface FlagOption extends Common {
  readonly kind: "flag";
  readonly default: boolean;
}

/** One option of the table. */
export type OptionDef = IntOption | NumberOption | ChoiceOption | FlagOption;

/** The options the table describes: every TrainOptions field but the inputs (text, resume, kernels) and a host's validateAtEnd and saveEveryStep. */
export type SchemaKey = Exclude<keyof TrainOptions, "text" | "resume" | "kernels" | "validateAtEnd" | "saveEveryStep">;

const COUNT = Number.MAX_SAFE_INTEGER;

/** Every option of a run, in the order `bptt train --help` lists them. */
export const TRAIN_SCHEMA: Readonly<Record<SchemaKey, OptionDef>> = {
  cell: { kind: "choice", flag: "cell", scope: "model", value: "C", choices: CELL_NAMES, default: "lstm", help: "recurrent cell (rnn: the article's simple RNN; lstm, gru as PyTorch's; bench/quality.md: why lstm)" },
  hiddenSize: { kind: "int", flag: "hidden", scope: "model", value: "H", min: 1, max: MAX_HIDDEN, default: 192, help: "hidden units per layer" },
  layers: { kind: "int", flag: "layers", scope: "model", value: "L", min: 1, max: MAX_LAYERS, default: 2, help: "stacked recurrent layers" },
  nonlinearity: { kind: "choice", flag: "nonlinearity", scope: "model", value: "F", choices: NONLINEARITIES, default: "tanh", help: "f1 of the simple RNN (lstm and gru: tanh only)" },
  bias: { kind: "flag", flag: "no-bias", scope: "model", default: true, help: "no bias tensors at all: the article's exact model" },
  seqLength: { kind: "int", flag: "seq-length", scope: "run", value: "T", min: 1, max: 100_000, default: 50, help: "BPTT steps per chunk" },
  batchSize: { kind: "int", flag: "batch-size", scope: "run", value: "B", min: 1, max: 100_000, default: 32, help: "parallel streams" },
  steps: { kind: "int", flag: "steps", scope: "resumable", value: "N", min: 0, max: COUNT, help: "stop after N updates in total" },
  epochs: { kind: "number", flag: "epochs", scope: "resumable", value: "N", min: 0, minOpen: true, max: 1e9, help: "stop after N passes over the training text in total" },
  timeSeconds: { kind: "number", flag: "time", scope: "session", value: "SECONDS", min: 0, minOpen: true, max: 1e9, help: "finish within this much wall-clock time, validation and the final checkpoint included" },
  optimizer: { kind: "choice", flag: "optimizer", scope: "run", value: "NAME", choices: OPTIMIZERS, default: "adam", help: "update rule" },
  lr: { kind: "number", flag: "lr", scope: "resumable", value: "RATE", min: 0, minOpen: true, max: 1e12, defaultText: "adam/rmsprop 2e-3, adagrad 0.1, sgd 0.1, momentum 0.01", help: "learning rate" },
  weightDecay: { kind: "number", flag: "weight-decay", scope: "resumable", value: "L", min: 0, max: 1e9, default: 0, help: "weight decay on the weight matrices, not the biases: AdamW's for adam, L2 for the others" },
  lrSchedule: { kind: "choice", flag: "lr-schedule", scope: "resumable", value: "S", choices: SCHEDULES, default: "step", help: "after the warm-up, step decays by --lr-decay every --lr-decay-every steps, cosine falls to --lr-min by --cosine-steps" },
  warmup: { kind: "int", flag: "warmup", scope: "resumable", value: "N", min: 0, max: COUNT, default: 0, help: "linear warm-up of the learning rate over the first N steps" },
  cosineSteps: { kind: "int", flag: "cosine-steps", scope: "resumable", value: "N", min: 1, max: COUNT, defaultText: "--steps", help: "cosine: the step where the rate reaches its floor" },
  minLrFraction: { kind: "number", flag: "lr-min", scope: "resumable", value: "F", min: 0, max: 1, default: 0.1, help: "cosine: the floor, a fraction of --lr" },
  lrDecay: { kind: "number", flag: "lr-decay", scope: "resumable", value: "F", min: 0, minOpen: true, max: 1, default: 1, help: "multiply the learning rate by F every --lr-decay-every steps (1: none)" },
  lrDecayEvery: { kind: "int", flag: "lr-decay-every", scope: "resumable", value: "N", min: 1, max: COUNT, default: 1000, help: "steps between decays" },
  clip: { kind: "number", flag: "clip", scope: "resumable", value: "C", min: 0, max: 1e9, default: 0, help: "clip every gradient element to [-C, C] (0: off)" },
  clipNorm: { kind: "number", flag: "clip-norm", scope: "resumable", value: "C", min: 0, max: 1e9, default: 5, help: "rescale the gradient to global norm C when larger (0: off)" },
  dropout: { kind: "number", flag: "dropout", scope: "resumable", value: "P", min: 0, max: 1, maxOpen: true, defaultText: "0.2 with 2+ layers, 0 with one", help: "dropout on every layer's output but the last (PyTorch's; needs --layers 2+), training only" },
  outputDropout: { kind: "number", flag: "output-dropout", scope: "resumable", value: "P", min: 0, max: 1, maxOpen: true, default: 0.2, help: "dropout on the last layer's output before the output layer (char-rnn's), training only (0: off)" },
  initScale: { kind: "number", flag: "init-scale", scope: "init", value: "S", min: 0, max: 1e3, defaultText: "1/sqrt(H), PyTorch's", help: "uniform init half-width" },
  forgetBias: { kind: "number", flag: "forget-bias", scope: "init", value: "B", min: -1e3, max: 1e3, defaultText: "PyTorch's uniform init", help: "LSTM: start the forget gate's bias at B, e.g. 1" },
  seed: { kind: "int", flag: "seed", scope: "run", value: "N", min: 0, max: 2 ** 32 - 1, default: 1, help: "random seed of the init, the dropout masks and the samples" },
  valFraction: { kind: "number", flag: "val-fraction", scope: "run", value: "F", min: 0, max: 0.5, default: 0.1, help: "held-out fraction at the end of the text" },
  valChars: { kind: "int", flag: "val-chars", scope: "run", value: "N", min: 2, max: COUNT, defaultText: "all of it", help: "validate on the first N characters of the held-out part only" },
  evalEvery: { kind: "int", flag: "eval-every", scope: "resumable", value: "N", min: 0, max: COUNT, default: 500, help: "steps between validation passes (0: at the end)" },
  keepBest: { kind: "flag", flag: "keep-best", scope: "resumable", default: false, help: "also write the checkpoint with the lowest validation loss, to OUT.best.safetensors" },
  patience: { kind: "int", flag: "patience", scope: "resumable", value: "N", min: 0, max: COUNT, default: 0, help: "stop after N validations in a row without a new lowest loss (0: never)" },
  sampleEvery: { kind: "int", flag: "sample-every", scope: "resumable", value: "N", min: 0, max: COUNT, default: 0, help: "steps between samples (0: only at the end)" },
  sampleLength: { kind: "int", flag: "sample-length", scope: "resumable", value: "N", min: 0, max: 1_000_000, default: 200, help: "characters per sample" },
  checkpointEvery: { kind: "int", flag: "checkpoint-every", scope: "resumable", value: "N", min: 0, max: COUNT, default: 1000, help: "steps between checkpoints (0: at the end)" },
  threads: { kind: "int", flag: "threads", scope: "resumable", value: "N", min: 1, max: 1024, defaultText: "the number of cores; fewer where more do not pay, e.g. --batch-size 1", help: "threads for the training step, data-parallel over the batch" },
};

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
 * Why a value is not valid for an option, in the words every caller shows.
 * @param def the option
 * @param value what was given
 * @returns undefined when it is valid, else e.g. "expected an integer in [1, 16384]; received 0"
 */
export function optionProblem(def: OptionDef, value: unknown): string | undefined {
  const received = `received ${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
  switch (def.kind) {
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= def.min && value <= def.max
        ? undefined : `expected an integer in [${def.min}, ${formatNumber(def.max)}]; ${received}`;
    case "number": {
      const ok = typeof value === "number" && Number.isFinite(value) && (def.minOpen === true ? value > def.min : value >= def.min) &&
        (def.maxOpen === true ? value < def.max : value <= def.max);
      return ok ? undefined : `expected a number in ${def.minOpen === true ? "(" : "["}${def.min}, ${formatNumber(def.max)}${def.maxOpen === true ? ")" : "]"}; ${received}`;
    }
    case "choice":
      return typeof value === "string" && def.choices.includes(value) ? undefined : `expected one of ${def.choices.join(", ")}; ${received}`;
    case "flag":
      return typeof value === "boolean" ? undefined : `expected true or false; ${received}`;
  }
}

/**
 * Check every option a caller gave (the library's side of the table).
 * @param options training options
 * @throws ConfigError naming the first option out of range, e.g. "hiddenSize: expected an integer in [1, 16384]; received 0"
 */
export function checkTrainOptions(options: TrainOptions): void {
  for (const [key, def] of Object.entries(TRAIN_SCHEMA) as [SchemaKey, OptionDef][]) {
    const value: unknown = options[key];
    if (value === undefined) continue;
    const problem = optionProblem(def, value);
    if (problem !== undefined) throw new ConfigError(`${key}: ${problem}`);
  }
}

/**
 * An option's help line with its default, as `--help` and the playground show it.
 * @returns e.g. "hidden units per layer (default 256)"
 */
export function helpLine(def: OptionDef): string {
  if (def.kind === "flag") return def.help;
  const shown = def.defaultText ?? (def.default === undefined ? undefined : String(def.default));
  const choices = def.kind === "choice" ? `${def.choices.join(" | ")}: ` : "";
  return `${choices}${def.help}${shown === undefined ? "" : ` (default ${shown})`}`;
}

/**
 * Parse an option's value as a CLI or a form gives it (a string).
 * @param def the option (not a flag)
 * @param raw the text
 * @returns the value, or the problem in the words of `optionProblem`
 */
export function parseOptionText(def: Exclude<OptionDef, FlagOption>, raw: string): { value: number | string } | { problem: string } {
  const value: number | string = def.kind === "choice" ? raw : raw.trim() === "" ? NaN : Number(raw.trim());
  const problem = optionProblem(def, value);
  return problem === undefined ? { value } : { problem: problem.replace(/received .*$/, `received ${JSON.stringify(raw)}`) };
}

/** The defaults the table gives, by key (options whose default depends on others are left out). */
export function schemaDefaults(): Partial<Record<SchemaKey, number | string | boolean>> {
  const out: Partial<Record<SchemaKey, number | string | boolean>> = {};
  for (const [key, def] of Object.entries(TRAIN_SCHEMA) as [SchemaKey, OptionDef][]) if (def.default !== undefined) out[key] = def.default;
  return out;
}

function formatNumber(x: number): string {
  return x === Number.MAX_SAFE_INTEGER ? "2^53 − 1" : String(x);
}
