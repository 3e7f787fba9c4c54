/**
 * The settings form's rules: raw field values in, Settings or one message per bad field out
 * (shown inline next to the field, before anything reaches the worker). The ranges are the
 * page's; the library's own checks (ConfigError, DataError) still run in the worker and are
 * shown too. Pure: no DOM, so it is unit-tested in Node (test/playground-settings.test.ts).
 */
import { CELL_NAMES, cellOf } from "../../src/cells/index.ts";
import { chunksPerEpoch, minTrainLength } from "../../src/data/batcher.ts";
import { NONLINEARITIES, type CellName, type Nonlinearity } from "../../src/model/config.ts";
import { defaultLearningRate, OPTIMIZERS, type OptimizerName } from "../../src/train/optimizers.ts";
import type { Settings } from "./protocol.ts";

/** Names of the form's fields (also the ids of their inputs, prefixed with "set-"). */
export type Field = keyof Settings | "text";

/** Raw values as the form holds them. */
export type RawSettings = Readonly<Record<keyof Settings, string>>;

/** The page's defaults: a model that learns visibly within a minute on 2 cores. */
export const DEFAULT_SETTINGS: Settings = {
  cell: "rnn",
  hiddenSize: 128,
  layers: 1,
  nonlinearity: "tanh",
  bias: true,
  seqLength: 50,
  batchSize: 32,
  optimizer: "adam",
  lr: defaultLearningRate("adam"),
  clip: 0,
  clipNorm: 5,
  seed: 1,
  evalEvery: 200,
  sampleEvery: 100,
};

/** Held-out share of the text: the trainer's default, as in the CLI. */
export const VAL_FRACTION = 0.1;

/** Largest values the page accepts (the library accepts more; the page must stay responsive). */
export const LIMITS = { hiddenSize: 1024, layers: 4, seqLength: 1000, batchSize: 512 } as const;

/** The outcome of reading the form. */
export type ParsedSettings =
  | { readonly ok: true; readonly settings: Settings }
  | { readonly ok: false; readonly errors: ReadonlyMap<Field, string> };

/**
 * Read and check the form.
 * @param raw the fields' values (strings; bias "true"/"false")
 * @param textChars characters (code points) of the training text
 * @returns the settings, or a message for each bad field
 */
export function parseSettings(raw: RawSettings, textChars: number): ParsedSettings {
  const errors = new Map<Field, string>();
  const int = (field: keyof Settings, min: number, max: number): number => {
    const s = raw[field].trim();
    const v = Number(s);
    if (s === "" || !Number.isInteger(v) || v < min || v > max) {
      errors.set(field, `expected a whole number from ${min} to ${max}; received ${JSON.stringify(raw[field])}`);
    }
    return v;
  };
  const real = (field: keyof Settings, min: number, max: number, exclusiveMin: boolean): number => {
    const s = raw[field].trim();
    const v = Number(s);
    if (s === "" || !Number.isFinite(v) || v < min || (exclusiveMin && v === min) || v > max) {
      errors.set(field, `expected a number ${exclusiveMin ? ">" : "≥"} ${min}${max < Infinity ? ` and ≤ ${max}` : ""}; received ${JSON.stringify(raw[field])}`);
    }
    return v;
  };
  const hiddenSize = int("hiddenSize", 1, LIMITS.hiddenSize);
  const layers = int("layers", 1, LIMITS.layers);
  const seqLength = int("seqLength", 1, LIMITS.seqLength);
  const batchSize = int("batchSize", 1, LIMITS.batchSize);
  const lr = real("lr", 0, 10, true);
  const clip = real("clip", 0, Infinity, false);
  const clipNorm = real("clipNorm", 0, Infinity, false);
  const seed = int("seed", 0, 2 ** 31 - 1);
  const evalEvery = int("evalEvery", 1, 1_000_000);
  const sampleEvery = int("sampleEvery", 0, 1_000_000);
  const cell = raw.cell as CellName;
  if (!CELL_NAMES.includes(cell)) errors.set("cell", `expected one of ${CELL_NAMES.join(", ")}; received ${JSON.stringify(raw.cell)}`);
  const nonlinearity = raw.nonlinearity as Nonlinearity;
  if (!NONLINEARITIES.includes(nonlinearity)) errors.set("nonlinearity", `expected one of ${NONLINEARITIES.join(", ")}`);
  else if (!errors.has("cell") && !cellOf(cell).nonlinearities.includes(nonlinearity)) {
    // the page shows tanh, disabled, for a gated cell; this catches a form that was not updated
    const { title, nonlinearities } = cellOf(cell);
    errors.set("nonlinearity", `expected ${nonlinearities.join(", ")} for the ${title} (its gates use σ and tanh); received ${JSON.stringify(raw.nonlinearity)}`);
  }
  const optimizer = raw.optimizer as OptimizerName;
  if (!OPTIMIZERS.includes(optimizer)) errors.set("optimizer", `expected one of ${OPTIMIZERS.join(", ")}`);
  const bias = raw.bias === "true";

  if (!errors.has("batchSize") && !errors.has("seqLength")) {
    const trainChars = textChars - Math.round(textChars * VAL_FRACTION);
    if (chunksPerEpoch(trainChars, batchSize, seqLength) < 1) {
      errors.set(
        "text",
        `the text has ${textChars} characters (${trainChars} for training); batch size ${batchSize} and sequence length ` +
          `${seqLength} need at least B·(T+1) = ${minTrainLength(batchSize, seqLength)} for training: use a longer text or smaller B or T`,
      );
    }
  }
  if (errors.size > 0) return { ok: false, errors };
  return {
    ok: true,
    settings: { cell, hiddenSize, layers, nonlinearity, bias, seqLength, batchSize, optimizer, lr, clip, clipNorm, seed, evalEvery, sampleEvery },
  };
}

/**
 * The form's raw values for some settings.
 * @param s settings
 * @returns strings as the inputs show them
 */
export function rawSettings(s: Settings): RawSettings {
  return {
    cell: s.cell, hiddenSize: String(s.hiddenSize), layers: String(s.layers), nonlinearity: s.nonlinearity, bias: String(s.bias),
    seqLength: String(s.seqLength), batchSize: String(s.batchSize), optimizer: s.optimizer, lr: String(s.lr),
    clip: String(s.clip), clipNorm: String(s.clipNorm), seed: String(s.seed), evalEvery: String(s.evalEvery),
    sampleEvery: String(s.sampleEvery),
  };
}

/**
 * Code points in a string (what the vocabulary counts as characters).
 * @param text any string
 * @returns its length in code points
 */
export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || (text.charCodeAt(i - 1) & 0xfc00) !== 0xd800) n++;
  }
  return n;
}
