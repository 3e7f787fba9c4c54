/**
 * The settings form, made from the option table (src/train/schema.ts): for each option the page
 * controls, a label in the page's words whose tooltip is the option's help line (default included)
 * and its `bptt train` flag, a select for a choice or a flag (the table's choices), a text field
 * for a number, and the element of its inline message. Here too: reading the form, filling it,
 * locking what may not change, and showing the messages. Its rules are settings.ts's.
 */
import { BpttError, CELL_NAMES, cellOf, helpLine, TRAIN_SCHEMA, type CellName, type OptionDef, type OptionScope } from "bptt";
import { el, ui } from "./elements.ts";
import { SETTING_KEYS, type ModelSummary, type SettingKey, type Settings } from "./protocol.ts";
import { cellChoices, DEFAULT_SETTINGS, LIMITS, LOCKED_WITH_MODEL, type Field, type RawSettings } from "./settings.ts";
import type { RunState } from "./state.ts";

/**
 * The form's fieldsets, in order, each with the scopes of the options it holds (the option table's):
 * what shapes the model, what else a model's run fixes (both locked while the page has a model:
 * LOCKED_WITH_MODEL), and what may change between segments.
 */
const GROUPS: readonly { readonly legend: string; readonly scopes: readonly OptionScope[] }[] = [
  { legend: "Model", scopes: ["model"] },
  { legend: "Truncated BPTT", scopes: ["run", "init"] },
  { legend: "Updates (may change when paused)", scopes: ["resumable", "session"] },
];

/** How the page shows one option. */
interface FieldView {
  /** The label's words, then its symbol in italics and the symbol's subscript. */
  readonly label: string;
  readonly symbol?: string;
  readonly sub?: string;
  /** What a choice shows, by value (default the value itself); a flag's values are "true" and "false". */
  readonly choices?: Readonly<Record<string, string>>;
  /** What the option means on this page, where that differs from the CLI's help line. */
  readonly note?: string;
}

/** Every option the form controls, in the form's order. */
const FIELDS: Readonly<Record<SettingKey, FieldView>> = {
  cell: { label: "cell", choices: cellChoices() },
  hiddenSize: { label: "hidden size", symbol: "H" },
  layers: { label: "layers", symbol: "L" },
  nonlinearity: { label: "nonlinearity", symbol: "f", sub: "1" },
  bias: { label: "bias", choices: { true: "yes", false: "no (the article's model)" } },
  seqLength: { label: "sequence length", symbol: "T" },
  batchSize: { label: "batch size", symbol: "B" },
  optimizer: { label: "optimizer" },
  seed: { label: "seed" },
  lr: { label: "learning rate" },
  weightDecay: { label: "weight decay", symbol: "λ" },
  clip: { label: "clip each element at" },
  clipNorm: { label: "clip global norm at" },
  dropout: { label: "dropout between layers" },
  outputDropout: { label: "dropout before output" },
  warmup: { label: "warm-up over … steps" },
  evalEvery: { label: "validate every … steps", note: "0: never (a pause does not validate)" },
  sampleEvery: { label: "sample every … steps", note: "0: only on request" },
  threads: {
    label: "threads",
    note: "the browser's cores; more than 1 needs a cross-origin isolated page; results differ only by float rounding; \"Step once\" runs on 1",
  },
};

/** The simple RNN's f1 as last chosen: the field shows tanh while a gated cell is selected, and gets it back after. */
let rnnNonlinearity: string = DEFAULT_SETTINGS.nonlinearity;

/** Make the fields, into their fieldsets, and show the page's defaults in them. */
export function buildForm(): void {
  const fieldsets = GROUPS.map(({ legend, scopes }) => {
    const set = document.createElement("fieldset");
    const caption = document.createElement("legend");
    caption.textContent = legend;
    set.append(caption);
    for (const key of Object.keys(FIELDS) as SettingKey[]) if (scopes.includes(TRAIN_SCHEMA[key].scope)) set.append(...field(key));
    return set;
  });
  ui.optionFields.replaceChildren(...fieldsets);
  showSettings(DEFAULT_SETTINGS);
}

/**
 * The input of an option.
 * @param key the option
 * @returns its select or text field
 */
export function input(key: SettingKey): HTMLInputElement | HTMLSelectElement {
  return el<HTMLInputElement | HTMLSelectElement>(`set-${key}`);
}

/**
 * Read the form.
 * @returns every field's value as it stands
 */
export function readForm(): RawSettings {
  return Object.fromEntries(SETTING_KEYS.map((key) => [key, input(key).value])) as Record<SettingKey, string>;
}

/**
 * Show settings in their fields (the page's defaults, or a model's own).
 * @param values the settings to show; the other fields keep theirs
 */
export function showSettings(values: Partial<Settings>): void {
  for (const [key, value] of Object.entries(values)) input(key as SettingKey).value = String(value);
  if (values.cell === "rnn" && values.nonlinearity !== undefined) rnnNonlinearity = values.nonlinearity;
}

/** Remember the f1 chosen while the simple RNN is selected (the field is locked otherwise). */
export function rememberNonlinearity(): void {
  if (formCell() === "rnn") rnnNonlinearity = input("nonlinearity").value;
}

/**
 * The cell the form shows.
 * @returns its value (the default cell while the field holds none)
 */
export function formCell(): CellName {
  const v = input("cell").value;
  return (CELL_NAMES as readonly string[]).includes(v) ? (v as CellName) : DEFAULT_SETTINGS.cell;
}

/**
 * The number of layers the form shows.
 * @returns its value (1 while the field is invalid)
 */
export function formLayers(): number {
  const L = Number(input("layers").value);
  return Number.isInteger(L) && L >= 1 && L <= LIMITS.layers ? L : 1;
}

/**
 * Lock what may not change now: every field while training; a model's cell, shape and batching
 * while it exists (the update settings may change between segments). The nonlinearity applies to
 * the simple RNN only: for a gated cell the field shows the cell's one choice (tanh), locked; back
 * on the RNN it shows the last f1 chosen for it.
 * @param run the worker's state
 * @param model the current model, if any
 */
export function lockForm(run: RunState, model: ModelSummary | undefined): void {
  for (const key of SETTING_KEYS) input(key).disabled = run === "running" || (model !== undefined && LOCKED_WITH_MODEL.includes(key));
  const f1 = input("nonlinearity");
  const accepted = cellOf(model?.config.cell ?? formCell()).nonlinearities;
  if (accepted.length === 1) {
    f1.value = accepted[0];
    f1.disabled = true;
    return;
  }
  if (model === undefined) f1.value = rnnNonlinearity; // a model's own f1 is shown already
}

/** Remove every inline message and mark. */
export function clearErrors(): void {
  for (const e of document.querySelectorAll<HTMLElement>(".error")) e.textContent = "";
  for (const e of document.querySelectorAll<HTMLElement>(".invalid")) e.classList.remove("invalid");
}

/**
 * Show a message under a field, and mark the field.
 * @param field the option, or "text"
 * @param message what is wrong
 */
export function showFieldError(field: Field, message: string): void {
  el(`err-${field}`).textContent = message;
  (field === "text" ? ui.customText : input(field)).classList.add("invalid");
}

/**
 * Show an error of the worker (or of the page) under the buttons, and under the field it names, if any.
 * @param name the error's class, e.g. "ConfigError"
 * @param message its message
 */
export function showWorkerError(name: string, message: string): void {
  ui.workerError.textContent = `${name}: ${message}`;
  for (const key of SETTING_KEYS) if (new RegExp(`\\b${key}\\b`).test(message)) el(`err-${key}`).textContent = message;
  if (/\btext\b/.test(message)) el("err-text").textContent = message;
}

/**
 * Show something thrown on the page as a worker error is shown.
 * @param e what was thrown
 */
export function showError(e: unknown): void {
  showWorkerError(e instanceof BpttError ? e.name : "Error", e instanceof Error ? e.message : String(e));
}

/** One option's label (words, then its input) and the element of its message. */
function field(key: SettingKey): [HTMLLabelElement, HTMLParagraphElement] {
  const def = TRAIN_SCHEMA[key];
  const view = FIELDS[key];
  const words = document.createElement("span");
  words.append(view.label);
  if (view.symbol !== undefined) {
    const symbol = document.createElement("i");
    symbol.textContent = view.symbol;
    words.append(" ", symbol);
  }
  if (view.sub !== undefined) {
    const sub = document.createElement("sub");
    sub.textContent = view.sub;
    words.append(sub);
  }
  const label = document.createElement("label");
  label.title = tooltip(key, def, view);
  label.append(words, " ", control(key, def, view));
  const error = document.createElement("p");
  error.className = "error";
  error.id = `err-${key}`;
  return [label, error];
}

/** A select for a choice or a flag, a text field for a number. */
function control(key: SettingKey, def: OptionDef, view: FieldView): HTMLInputElement | HTMLSelectElement {
  let e: HTMLInputElement | HTMLSelectElement;
  if (def.kind === "choice" || def.kind === "flag") {
    e = document.createElement("select");
    const values = def.kind === "flag" ? ["true", "false"] : def.choices;
    e.append(...values.map((v) => new Option(view.choices?.[v] ?? v, v)));
  } else {
    e = document.createElement("input");
    e.inputMode = def.kind === "int" ? "numeric" : "decimal";
  }
  e.id = `set-${key}`;
  return e;
}

/**
 * The option's help line and flag, and what differs on this page: its narrower range, its default, its meaning.
 * @returns e.g. "hidden units per layer (default 256)\nbptt train --hidden H; here at most 1024"
 */
function tooltip(key: SettingKey, def: OptionDef, view: FieldView): string {
  const limits: Partial<Record<SettingKey, number>> = LIMITS;
  const limit = limits[key];
  const here = [
    limit === undefined ? "" : `at most ${limit}`,
    def.default === undefined || def.default === DEFAULT_SETTINGS[key] ? "" : `by default ${String(DEFAULT_SETTINGS[key])}`,
    view.note ?? "",
  ].filter((s) => s !== "");
  const flag = `bptt train --${def.flag}${def.kind === "flag" || def.value === undefined ? "" : ` ${def.value}`}`;
  return `${helpLine(def)}\n${flag}${here.length === 0 ? "" : `; here ${here.join(", ")}`}`;
}
