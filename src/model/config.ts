/**
 * The configuration of a model: input → cell stack → head, each part a unit. The input
 * (src/inputs/: one-hot over V symbols) feeds L stacked recurrent layers of H units (simple RNN,
 * LSTM or GRU: src/cells/), and the head (src/heads/: a linear output layer and the softmax
 * cross-entropy) reads the top one. `input` and `head` are left out at their defaults, one-hot
 * and softmax, in the type and in the JSON, so that the configs of models made before they
 * existed parse as such and keep their bytes.
 */
import { CELL_NAMES, cellOf } from "../cells/index.ts";
import type { CellName, Nonlinearity } from "../cells/types.ts";
import { ConfigError } from "../errors.ts";
import { DEFAULT_HEAD, HEAD_NAMES, headOf, type HeadName } from "../heads/index.ts";
import { DEFAULT_INPUT, INPUT_NAMES, inputOf, type InputName } from "../inputs/index.ts";
import { paramCount } from "./params.ts";

export type { CellName, HeadName, InputName, Nonlinearity };

/** All nonlinearities of the simple RNN, in the order shown to users. */
export const NONLINEARITIES: readonly Nonlinearity[] = ["tanh", "relu", "sigmoid"];

/** The shape of a model; stored as JSON in every checkpoint's `config` metadata. */
export interface ModelConfig {
  /** The input (src/inputs/); absent for "onehot", the default (parseModelConfig leaves it out there). */
  readonly input?: InputName;
  /** Recurrent cell: "rnn" (the article's simple RNN), "lstm" or "gru". */
  readonly cell: CellName;
  /** f1 of F2 for the simple RNN ("tanh" default); the gated cells take only "tanh". */
  readonly nonlinearity: Nonlinearity;
  /** Stacked recurrent layers L ≥ 1. Default 1. */
  readonly layers: number;
  /** Hidden units H per layer. */
  readonly hiddenSize: number;
  /** Vocabulary size V (one-hot input width and number of output classes). */
  readonly vocabSize: number;
  /** Biases b_ih, b_hh and fc.bias. false gives the article's exact model: no bias tensors at all. */
  readonly bias: boolean;
  /** The head (src/heads/); absent for "softmax", the default (parseModelConfig leaves it out there). */
  readonly head?: HeadName;
}

/** Largest accepted H; an H×H float32 matrix is then 1 GiB. */
export const MAX_HIDDEN = 16384;
/** Largest accepted V (every Unicode code point fits). */
export const MAX_VOCAB = 1_114_112;
/** Largest accepted L. */
export const MAX_LAYERS = 64;
/** Largest accepted number of parameters (2 GiB of float32): beyond it, refuse instead of trying to allocate. */
export const MAX_PARAMS = 2 ** 29;

/**
 * Check a configuration that came from outside (CLI flags, checkpoint JSON) and return it typed.
 * @param value any parsed JSON value
 * @param where what the value came from, for the error message ("checkpoint m.safetensors")
 * @returns the validated configuration
 * @throws ConfigError naming the first field that is missing or out of range
 */
export function parseModelConfig(value: unknown, where: string): ModelConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${where}: config must be a JSON object; received ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  const cell = o["cell"] ?? "rnn";
  if (typeof cell !== "string" || !(CELL_NAMES as readonly string[]).includes(cell)) {
    throw new ConfigError(`${where}: config.cell must be one of ${CELL_NAMES.map((c) => `"${c}"`).join(", ")}; received ${describe(cell)}`);
  }
  const accepted = cellOf(cell as CellName).nonlinearities;
  // the gated cells have no choice of f1: a config without the key is theirs ("tanh")
  const nonlinearity = o["nonlinearity"] ?? (accepted.length === 1 ? accepted[0] : undefined);
  if (typeof nonlinearity !== "string" || !(accepted as readonly string[]).includes(nonlinearity)) {
    throw new ConfigError(`${where}: config.nonlinearity must be ${choices(cell as CellName)}; received ${describe(nonlinearity)}`);
  }
  const bias = o["bias"];
  if (typeof bias !== "boolean") {
    throw new ConfigError(`${where}: config.bias must be true or false; received ${describe(bias)}`);
  }
  const input = unitField(o, "input", INPUT_NAMES, DEFAULT_INPUT, where);
  const head = unitField(o, "head", HEAD_NAMES, DEFAULT_HEAD, where);
  const config: ModelConfig = {
    ...(input === DEFAULT_INPUT ? {} : { input }),
    cell: cell as CellName,
    nonlinearity: nonlinearity as Nonlinearity,
    layers: intField(o, "layers", 1, MAX_LAYERS, where),
    hiddenSize: intField(o, "hiddenSize", 1, MAX_HIDDEN, where),
    vocabSize: intField(o, "vocabSize", 1, MAX_VOCAB, where),
    bias,
    ...(head === DEFAULT_HEAD ? {} : { head }),
  };
  return validateModelConfig(config, where);
}

/** A unit's name from a config: one of `names`, or `fallback` when the key is absent. */
function unitField<Name extends string>(o: Record<string, unknown>, key: "input" | "head", names: readonly Name[], fallback: Name, where: string): Name {
  const v = o[key] ?? fallback;
  if (typeof v !== "string" || !(names as readonly string[]).includes(v)) {
    throw new ConfigError(`${where}: config.${key} must be one of ${names.map((n) => `"${n}"`).join(", ")} (or absent: "${fallback}"); received ${describe(v)}`);
  }
  return v as Name;
}

/**
 * Check the ranges of a typed configuration (library callers can pass anything a type allows).
 * @param config the configuration to check
 * @param where what the configuration came from, for the error message
 * @returns the same configuration
 * @throws ConfigError when a field is out of range or the model would be absurdly large
 */
export function validateModelConfig(config: ModelConfig, where = "model config"): ModelConfig {
  checkInt(config.layers, "layers", 1, MAX_LAYERS, where);
  checkInt(config.hiddenSize, "hiddenSize", 1, MAX_HIDDEN, where);
  checkInt(config.vocabSize, "vocabSize", 1, MAX_VOCAB, where);
  if (!(CELL_NAMES as readonly string[]).includes(config.cell)) {
    throw new ConfigError(`${where}: cell must be one of ${CELL_NAMES.join(", ")}; received ${describe(config.cell)}`);
  }
  if (!(cellOf(config.cell).nonlinearities as readonly string[]).includes(config.nonlinearity)) {
    throw new ConfigError(`${where}: nonlinearity must be ${choices(config.cell)}; received ${describe(config.nonlinearity)}`);
  }
  if (config.input !== undefined && !(INPUT_NAMES as readonly string[]).includes(config.input)) {
    throw new ConfigError(`${where}: input must be one of ${INPUT_NAMES.join(", ")}; received ${describe(config.input)}`);
  }
  if (config.head !== undefined && !(HEAD_NAMES as readonly string[]).includes(config.head)) {
    throw new ConfigError(`${where}: head must be one of ${HEAD_NAMES.join(", ")}; received ${describe(config.head)}`);
  }
  const H = config.hiddenSize;
  const V = config.vocabSize;
  const count = paramCount(config);
  if (count > MAX_PARAMS) {
    throw new ConfigError(
      `${where}: ${config.cell}, layers=${config.layers}, hiddenSize=${H}, vocabSize=${V} need ${count} parameters; at most ${MAX_PARAMS} are supported`,
    );
  }
  return config;
}

/**
 * The nonlinearities a cell accepts, for messages.
 * @returns e.g. "one of tanh, relu, sigmoid", or "tanh for cell lstm (its gates use σ and tanh)"
 */
function choices(cell: CellName): string {
  const accepted = cellOf(cell).nonlinearities;
  return accepted.length > 1 ? `one of ${accepted.join(", ")}` : `${accepted.join("")} for cell ${cell} (its gates use σ and tanh)`;
}

function intField(o: Record<string, unknown>, key: string, min: number, max: number, where: string): number {
  const v = o[key];
  if (typeof v !== "number") throw new ConfigError(`${where}: config.${key} must be an integer; received ${describe(v)}`);
  return checkInt(v, key, min, max, where);
}

function checkInt(v: number, key: string, min: number, max: number, where: string): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${where}: ${key} must be an integer in [${min}, ${max}]; received ${describe(v)}`);
  }
  return v;
}

/** @returns whether two configs describe the same model (the same parameter layout and arithmetic) */
export function sameModelConfig(a: ModelConfig, b: ModelConfig): boolean {
  return inputOf(a) === inputOf(b) && a.cell === b.cell && a.nonlinearity === b.nonlinearity && a.layers === b.layers &&
    a.hiddenSize === b.hiddenSize && a.vocabSize === b.vocabSize && a.bias === b.bias && headOf(a) === headOf(b);
}

/**
 * The config as the JSON text checkpoints store (metadata `config`) and ONNX exports carry (`bptt.config`).
 * @returns JSON of the config's keys in a fixed order, the input and the head left out at their
 *   defaults: for a one-hot/softmax model exactly the JSON of the models made before inputs and heads were units
 */
export function modelConfigJson(c: ModelConfig): string {
  const { cell, nonlinearity, layers, hiddenSize, vocabSize, bias } = c;
  const input = inputOf(c).name;
  const head = headOf(c).name;
  return JSON.stringify({
    ...(input === DEFAULT_INPUT ? {} : { input }),
    cell, nonlinearity, layers, hiddenSize, vocabSize, bias,
    ...(head === DEFAULT_HEAD ? {} : { head }),
  });
}

/** @returns a config for messages, e.g. "rnn tanh, layers 1, hiddenSize 256, vocabSize 65, bias true" (and the input and head where not the defaults) */
export function describeModelConfig(c: ModelConfig): string {
  const input = inputOf(c).name === DEFAULT_INPUT ? "" : `${inputOf(c).name} input, `;
  const head = headOf(c).name === DEFAULT_HEAD ? "" : `, ${headOf(c).name} head`;
  return `${input}${c.cell} ${c.nonlinearity}, layers ${c.layers}, hiddenSize ${c.hiddenSize}, vocabSize ${c.vocabSize}, bias ${c.bias}${head}`;
}

/** A short, bounded description of any value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const s = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
