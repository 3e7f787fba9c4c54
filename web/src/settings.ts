/**
 * The settings form's rules: raw field values in, Settings or one message per bad field out
 * (shown inline next to the field, before anything reaches the worker). Each field's type, range,
 * default and message come from the library's option table (src/train/schema.ts), which the CLI's
 * flags also come from; the page only narrows a few ranges (LIMITS) to stay responsive. The
 * library's own checks (ConfigError, DataError) still run in the worker and are shown too.
 * Pure: no DOM, so it is unit-tested in Node (test/playground-settings.test.ts).
 */
import {
  CELL_NAMES, cellOf, chunksPerEpoch, defaultLearningRate, dropoutLayersProblem, keptOnResume, keysWhere, minTrainLength, optionProblem, parseOptionText,
  pick, TRAIN_DEFAULTS, TRAIN_SCHEMA, type ModelConfig, type OptionDef, type TrainValues,
} from "bptt";
import { SETTING_KEYS, type SettingKey, type Settings } from "./protocol.ts";

/** Names of the form's fields (also the ids of their inputs, prefixed with "set-", and of their messages, "err-"). */
export type Field = SettingKey | "text";

/** Raw values as the form holds them. */
export type RawSettings = Readonly<Record<SettingKey, string>>;

/** Largest values the page accepts (the library accepts more; the page must stay responsive); seed: a 31-bit integer. */
export const LIMITS = {
  hiddenSize: 1024, layers: 4, seqLength: 1000, batchSize: 512, seed: 2 ** 31 - 1, threads: 16,
} as const satisfies Partial<Record<SettingKey, number>>;

/**
 * Where the page's defaults differ from a new run's (the option table's). The page starts on the
 * article's model — one layer of the simple RNN, no dropout, whose gradients through time its
 * views explain — where `bptt train` starts on the LSTM that learns the most in ten minutes; and
 * it validates and samples more often, so that a run shows progress within a minute.
 */
const PAGE_DEFAULTS = {
  cell: "rnn", layers: 1, dropout: 0, outputDropout: 0, evalEvery: 200, sampleEvery: 100,
} as const satisfies Partial<Settings>;

/**
 * The page's defaults: a new run's (TRAIN_DEFAULTS, and the optimizer's learning rate) but
 * PAGE_DEFAULTS; and its threads are the browser's cores (`pageCores`), where the CLI's are the machine's.
 */
export const DEFAULT_SETTINGS: Settings = pick(
  { ...TRAIN_DEFAULTS, lr: defaultLearningRate(TRAIN_DEFAULTS.optimizer), threads: pageCores(), ...PAGE_DEFAULTS },
  SETTING_KEYS,
);

/** The settings that shape the model (scope "model"): a model's own, from its config. */
export const MODEL_SETTING_KEYS = keysWhere(TRAIN_SCHEMA, { scope: "model" });

/**
 * The settings a model fixes, which the page locks while it has one: the options a resumed run
 * keeps (keptOnResume, the option table's scopes), as the library refuses another value of them.
 */
export const LOCKED_WITH_MODEL: readonly SettingKey[] = SETTING_KEYS.filter((key) => keptOnResume(TRAIN_SCHEMA[key]));

/**
 * The settings of a loaded checkpoint's run that the page shows: all that it stores of them
 * (`checkpointOptions`) but the model's shape (shown from its config: `modelSettings`), the run's
 * cadence (the page validates and samples on its own) and its threads (here the browser's cores).
 * @param stored the options the checkpoint stores
 * @returns the settings to show
 */
export function shownSettings(stored: TrainValues): Partial<Settings> {
  const shown = SETTING_KEYS.filter((key) => {
    const def: OptionDef = TRAIN_SCHEMA[key];
    return def.scope !== "model" && def.group !== "cadence" && key !== "threads";
  });
  return pick(stored, shown);
}

/**
 * A model's own settings: those that shape it.
 * @param config the model's configuration
 * @returns its cell, hidden size, layers, nonlinearity and bias, as the form holds them
 */
export function modelSettings(config: ModelConfig): Partial<Settings> {
  return pick(config, MODEL_SETTING_KEYS);
}

/** Held-out share of the text: the trainer's default, as in the CLI. */
export const VAL_FRACTION = TRAIN_DEFAULTS.valFraction;

/**
 * What the cell field shows for each registered cell: its title (the cell's `title`,
 * src/cells/<name>/index.ts), e.g. "LSTM"; a cell added to the registry appears with it.
 * @returns cell name → title, in the registry's order
 */
export function cellChoices(): Readonly<Record<string, string>> {
  return Object.fromEntries(CELL_NAMES.map((name) => [name, cellOf(name).title]));
}

/** The outcome of reading the form. */
export type ParsedSettings =
  | { readonly ok: true; readonly settings: Settings }
  | { readonly ok: false; readonly errors: ReadonlyMap<Field, string> };

/**
 * Read and check the form: each field through its option in the option table (with the page's
 * narrower range where LIMITS has one), then what the table cannot say about one field alone.
 * @param raw the fields' values (strings; bias "true"/"false")
 * @param textChars characters (code points) of the training text
 * @returns the settings, or a message for each bad field
 */
export function parseSettings(raw: RawSettings, textChars: number): ParsedSettings {
  const errors = new Map<Field, string>();
  const values: Record<string, number | string | boolean> = {};
  for (const key of SETTING_KEYS) {
    const parsed = parseField(key, raw[key]);
    if ("problem" in parsed) errors.set(key, parsed.problem);
    else values[key] = parsed.value;
  }
  // every key parsed as its option's kind, or has a message (then `s` is not returned)
  const s = values as unknown as Settings;

  if (!errors.has("cell") && !errors.has("nonlinearity") && !cellOf(s.cell).nonlinearities.includes(s.nonlinearity)) {
    // the page shows tanh, disabled, for a gated cell; this catches a form that was not updated
    const { title, nonlinearities } = cellOf(s.cell);
    errors.set("nonlinearity", `expected ${nonlinearities.join(", ")} for the ${title} (its gates use σ and tanh); received ${JSON.stringify(raw.nonlinearity)}`);
  }
  const layersProblem = errors.has("layers") || errors.has("dropout") ? undefined : dropoutLayersProblem(s.dropout, s.layers);
  // the library's reason, at the field
  if (layersProblem !== undefined) errors.set("dropout", `expected 0 with 1 layer: ${layersProblem}; received ${JSON.stringify(raw.dropout)}`);
  if (!errors.has("batchSize") && !errors.has("seqLength")) {
    const trainChars = textChars - Math.round(textChars * VAL_FRACTION);
    if (chunksPerEpoch(trainChars, s.batchSize, s.seqLength) < 1) {
      errors.set(
        "text",
        `the text has ${textChars} characters (${trainChars} for training); batch size ${s.batchSize} and sequence length ` +
          `${s.seqLength} need at least B·(T+1) = ${minTrainLength(s.batchSize, s.seqLength)} for training: use a longer text or smaller B or T`,
      );
    }
  }
  return errors.size > 0 ? { ok: false, errors } : { ok: true, settings: s };
}

/**
 * The form's raw values for some settings.
 * @param s settings
 * @returns strings as the inputs show them
 */
export function rawSettings(s: Settings): RawSettings {
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, String(s[key])])) as Record<SettingKey, string>;
}

/** One field's text through its option (a flag's field holds "true" or "false"). */
function parseField(key: SettingKey, raw: string): { value: number | string | boolean } | { problem: string } {
  const def = TRAIN_SCHEMA[key];
  if (def.kind === "flag") {
    const value = raw === "true" ? true : raw === "false" ? false : raw;
    const problem = optionProblem(def, value);
    return problem === undefined ? { value } : { problem };
  }
  const limits: Partial<Record<SettingKey, number>> = LIMITS;
  const limit = limits[key];
  return parseOptionText(def.kind !== "choice" && limit !== undefined ? { ...def, max: limit } : def, raw);
}

/**
 * The default number of threads: the cores the browser reports (navigator.hardwareConcurrency), as
 * the CLI's default is the machine's cores; the worker then uses `chooseThreads` of them, as the
 * CLI does, and one where it cannot start workers. 1 where unknown (Node 20 has no navigator),
 * at most LIMITS.threads.
 */
function pageCores(): number {
  const cores = globalThis.navigator?.hardwareConcurrency;
  return typeof cores === "number" && cores >= 1 ? Math.min(Math.floor(cores), LIMITS.threads) : 1;
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
