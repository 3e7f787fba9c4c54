/**
 * The settings form's rules: raw field values in, Settings or one message per bad field out
 * (shown inline next to the field, before anything reaches the worker). Each field's type, range,
 * default and message come from the library's option table (src/train/schema.ts), which the CLI's
 * flags also come from; the page only narrows a few ranges (LIMITS) to stay responsive. The
 * library's own checks (ConfigError, DataError) still run in the worker and are shown too.
 * Pure: no DOM, so it is unit-tested in Node (test/playground-settings.test.ts).
 */
import { cellOf } from "../../src/cells/index.ts";
import { chunksPerEpoch, minTrainLength } from "../../src/data/batcher.ts";
import type { CellName, Nonlinearity } from "../../src/model/config.ts";
import { defaultLearningRate, type OptimizerName } from "../../src/train/optimizers.ts";
import { TRAIN_DEFAULTS } from "../../src/train/options.ts";
import { parseOptionText, TRAIN_SCHEMA } from "../../src/train/schema.ts";
import type { Settings } from "./protocol.ts";

/** Names of the form's fields (also the ids of their inputs, prefixed with "set-"). */
export type Field = keyof Settings | "text";

/** Raw values as the form holds them. */
export type RawSettings = Readonly<Record<keyof Settings, string>>;

/**
 * The page's defaults: a new run's (TRAIN_DEFAULTS, from the option table), except the cadence of
 * validation and samples, which the page shows more often so that a run shows progress within a minute.
 */
export const DEFAULT_SETTINGS: Settings = {
  cell: TRAIN_DEFAULTS.cell,
  hiddenSize: TRAIN_DEFAULTS.hiddenSize,
  layers: TRAIN_DEFAULTS.layers,
  nonlinearity: TRAIN_DEFAULTS.nonlinearity,
  bias: TRAIN_DEFAULTS.bias,
  seqLength: TRAIN_DEFAULTS.seqLength,
  batchSize: TRAIN_DEFAULTS.batchSize,
  optimizer: TRAIN_DEFAULTS.optimizer,
  lr: defaultLearningRate(TRAIN_DEFAULTS.optimizer),
  clip: 0,
  clipNorm: TRAIN_DEFAULTS.clipNorm,
  seed: TRAIN_DEFAULTS.seed,
  evalEvery: 200,
  sampleEvery: 100,
};

/** Held-out share of the text: the trainer's default, as in the CLI. */
export const VAL_FRACTION = 0.1;

/** Largest values the page accepts (the library accepts more; the page must stay responsive); seed: a 31-bit integer. */
export const LIMITS = { hiddenSize: 1024, layers: 4, seqLength: 1000, batchSize: 512, seed: 2 ** 31 - 1 } as const;

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
  /** One field through its option in the table (with the page's narrower range where LIMITS has one). */
  const read = (field: Exclude<keyof Settings, "bias">): number | string => {
    const def = TRAIN_SCHEMA[field];
    if (def.kind === "flag") throw new Error(`internal: ${field} is a flag`);
    const limit: number | undefined = (LIMITS as Partial<Record<keyof Settings, number>>)[field];
    const parsed = parseOptionText(def.kind !== "choice" && limit !== undefined ? { ...def, max: limit } : def, raw[field]);
    if ("problem" in parsed) {
      errors.set(field, parsed.problem);
      return NaN;
    }
    return parsed.value;
  };
  const num = (field: Exclude<keyof Settings, "bias" | "cell" | "nonlinearity" | "optimizer">): number => read(field) as number;
  const hiddenSize = num("hiddenSize");
  const layers = num("layers");
  const seqLength = num("seqLength");
  const batchSize = num("batchSize");
  const lr = num("lr");
  const clip = num("clip");
  const clipNorm = num("clipNorm");
  const seed = num("seed");
  const evalEvery = num("evalEvery");
  const sampleEvery = num("sampleEvery");
  const cell = read("cell") as CellName;
  const nonlinearity = read("nonlinearity") as Nonlinearity;
  if (!errors.has("cell") && !errors.has("nonlinearity") && !cellOf(cell).nonlinearities.includes(nonlinearity)) {
    // the page shows tanh, disabled, for a gated cell; this catches a form that was not updated
    const { title, nonlinearities } = cellOf(cell);
    errors.set("nonlinearity", `expected ${nonlinearities.join(", ")} for the ${title} (its gates use σ and tanh); received ${JSON.stringify(raw.nonlinearity)}`);
  }
  const optimizer = read("optimizer") as OptimizerName;
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
