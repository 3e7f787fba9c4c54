/**
 * The messages between the playground page and its training worker. Both sides are this
 * project's code, but a message still crosses a boundary (structured clone), so the worker
 * narrows what it receives with `parseCommand` before acting on it (docs/architecture.md, Errors and boundaries: unknown at I/O).
 *
 * Page → worker: Command.  Worker → page: WorkerEvent.
 * Arrays travel as copies (transferred where possible): the worker's buffers may be views into
 * WebAssembly memory, which must never be handed to another thread.
 */
import { optionProblem, TRAIN_SCHEMA, type DiagnosticSeries, type GateSaturation, type ModelConfig, type SchemaKey, type TrainOptions } from "bptt";

/** The training options the settings form controls (web/src/form.ts lays them out). */
export const SETTING_KEYS = [
  "cell", "hiddenSize", "layers", "nonlinearity", "bias", "seqLength", "batchSize", "optimizer", "seed",
  "lr", "weightDecay", "clip", "clipNorm", "dropout", "outputDropout", "warmup", "evalEvery", "sampleEvery", "threads",
] as const satisfies readonly SchemaKey[];

/** One of the options the form controls. */
export type SettingKey = (typeof SETTING_KEYS)[number];

/**
 * Everything the settings form controls: these TrainOptions, every one given (each field's doc is
 * TrainOptions'; its range and default are in the option table, src/train/schema.ts).
 */
export type Settings = Required<Pick<TrainOptions, SettingKey>>;

/** Page → worker. */
export type Command =
  /** Train from the current model (a paused run or a loaded checkpoint), or start a new run; `steps` = 1 steps once. */
  | { readonly type: "train"; readonly settings: Settings; readonly text: string; readonly steps: number | undefined }
  /** Stop after the current step, keeping everything needed to resume exactly. */
  | { readonly type: "pause" }
  /** Forget the model. */
  | { readonly type: "reset" }
  /** Temperature and length of the periodic samples (applies from the next one). */
  | { readonly type: "sampling"; readonly temperature: number; readonly topP: number }
  /** Generate one sample now from the current model. */
  | { readonly type: "sample"; readonly temperature: number; readonly topP: number; readonly length: number; readonly prime: string }
  /** Run the current model over a passage and return one layer's state `state` (index into the cell's stateNames) at every step. */
  | { readonly type: "hidden"; readonly layer: number; readonly state: number; readonly passage: string }
  /** Serialize the current model (with its training state) as a safetensors checkpoint. */
  | { readonly type: "save" }
  /** Replace the current model by a checkpoint's. */
  | { readonly type: "load"; readonly bytes: Uint8Array; readonly name: string };

/** One training step, as plotted. */
export interface StepPoint {
  readonly step: number;
  /** Loss of this chunk, nats/char. */
  readonly loss: number;
  /** Smoothed training loss, nats/char. */
  readonly smoothLoss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Characters per second over the last interval (instantaneous); NaN when not measured at this point. */
  readonly tokensPerSec: number;
}

/** One per-step series of a layer's chunk diagnostics (a float32 copy of the cell's DiagnosticSeries). */
export interface SeriesDiag extends Omit<DiagnosticSeries, "values"> {
  /** (T) the value at t = 1..T, a float32 copy of the cell's. */
  readonly values: Float32Array;
}

/** Diagnostics of one chunk and one layer: what the cell's view reports (src/cells/<name>/view.ts). */
export interface LayerDiag {
  /** The per-step series; the first is always ‖∂E/∂(pre-activations)_t‖. */
  readonly series: readonly SeriesDiag[];
  /** Per gate (the simple RNN: one, "h"), the share of activations near each end. */
  readonly saturation: readonly GateSaturation[];
}

/** What the page shows about the current model. */
export interface ModelSummary {
  readonly config: ModelConfig;
  /** Updates made so far. */
  readonly step: number;
  /** The settings of its run that its checkpoint records (none for a model from `bptt init`). */
  readonly run: Partial<Settings>;
  /** Where it came from. */
  readonly source: string;
}

/** Worker → page. */
export type WorkerEvent =
  /**
   * The worker is ready: its kernels (and why not the WebAssembly ones), and the threads it can
   * train on (1, or the browser's cores where it can start nested workers; `threadsNote` says why 1).
   */
  | { readonly type: "ready"; readonly kernels: string; readonly note: string; readonly threads: number; readonly threadsNote: string }
  /** The threads a training segment runs on (`chooseThreads` of the setting), and why 1 where more were asked for. */
  | { readonly type: "threads"; readonly threads: number; readonly note: string }
  | { readonly type: "state"; readonly state: "idle" | "running" | "paused"; readonly model: ModelSummary | undefined }
  | { readonly type: "steps"; readonly points: readonly StepPoint[]; readonly averageTokensPerSec: number; readonly epoch: number }
  | { readonly type: "eval"; readonly step: number; readonly valLoss: number }
  | { readonly type: "diag"; readonly step: number; readonly layers: readonly LayerDiag[] }
  | { readonly type: "sample"; readonly step: number; readonly temperature: number; readonly topP: number; readonly text: string; readonly requested: boolean }
  | {
    readonly type: "hidden"; readonly layer: number; readonly state: number;
    readonly chars: readonly string[]; readonly H: number; readonly activations: Float32Array;
  }
  | { readonly type: "checkpoint"; readonly bytes: Uint8Array; readonly step: number }
  | { readonly type: "error"; readonly name: string; readonly message: string };

/**
 * Narrow a received message to a Command.
 * @param data what arrived
 * @returns the command, or undefined when it is not one
 */
export function parseCommand(data: unknown): Command | undefined {
  if (typeof data !== "object" || data === null || !("type" in data)) return undefined;
  const m = data as Record<string, unknown>;
  switch (m["type"]) {
    case "pause":
    case "reset":
    case "save":
      return { type: m["type"] };
    case "train":
      if (typeof m["text"] !== "string" || !isSettings(m["settings"])) return undefined;
      if (m["steps"] !== undefined && !isCount(m["steps"])) return undefined;
      return { type: "train", settings: m["settings"], text: m["text"], steps: m["steps"] as number | undefined };
    case "sampling":
      return isNumber(m["temperature"]) && isTopP(m["topP"]) ? { type: "sampling", temperature: m["temperature"], topP: m["topP"] } : undefined;
    case "sample":
      return isNumber(m["temperature"]) && isTopP(m["topP"]) && isCount(m["length"]) && typeof m["prime"] === "string"
        ? { type: "sample", temperature: m["temperature"], topP: m["topP"], length: m["length"], prime: m["prime"] }
        : undefined;
    case "hidden":
      return isCount(m["layer"]) && isCount(m["state"]) && typeof m["passage"] === "string"
        ? { type: "hidden", layer: m["layer"], state: m["state"], passage: m["passage"] }
        : undefined;
    case "load":
      return m["bytes"] instanceof Uint8Array && typeof m["name"] === "string" ? { type: "load", bytes: m["bytes"], name: m["name"] } : undefined;
    default:
      return undefined;
  }
}

/** Every option the form controls, each valid by the option table (the library's range; the page's is narrower). */
function isSettings(v: unknown): v is Settings {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return SETTING_KEYS.every((key) => optionProblem(TRAIN_SCHEMA[key], s[key]) === undefined);
}

function isNumber(v: unknown): v is number {
  return typeof v === "number";
}

/** A nucleus probability: in (0, 1]. */
function isTopP(v: unknown): v is number {
  return typeof v === "number" && v > 0 && v <= 1;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
