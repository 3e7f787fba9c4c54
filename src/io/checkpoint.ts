/**
 * A bptt checkpoint is one safetensors file (docs/architecture.md, Checkpoints) that torch can load directly:
 *
 *   tensors    the model's state_dict, float32, in paramSpecs order: the input's tensors (none
 *              for one-hot), PyTorch's nn.RNN / nn.LSTM / nn.GRU (rnn.weight_ih_l{k} [G·H, in_k],
 *              rnn.weight_hh_l{k} [G·H, H], rnn.bias_ih_l{k} [G·H], rnn.bias_hh_l{k} [G·H];
 *              G = 1 rnn; 4 lstm, rows i, f, g, o; 3 gru, rows r, z, n), then the head's (the
 *              softmax head's nn.Linear: fc.weight [V, H], fc.bias [V]),
 *              then any other tensors (optimizer state...), which other readers ignore
 *   metadata   format = "bptt"
 *              config = JSON {cell, nonlinearity, layers, hiddenSize, vocabSize, bias}, with `input`
 *                       and `head` where they are not one-hot and softmax (src/model/config.ts)
 *              vocab  = JSON array of the V symbols (optional)
 *              and any other keys (e.g. "train"), passed through
 *
 * Reading checks everything a model relies on (names, shapes, finite values) and accepts
 * F64, F16 and BF16 tensors too, converted to float32.
 */
import { ConfigError, CheckpointError, ShapeError } from "../errors.ts";
import { describe, modelConfigJson, parseModelConfig, type ModelConfig } from "../model/config.ts";
import { cellOf } from "../cells/index.ts";
import { DEFAULT_HEAD, HEADS, headOf } from "../heads/index.ts";
import { DEFAULT_INPUT, INPUTS, inputOf } from "../inputs/index.ts";
import { gateCount, paramCount, paramSpecs, type ParamSpec } from "../model/params.ts";
import { parseSafetensors, safetensorsParts, serializeSafetensors, type DType, type Tensor } from "./safetensors.ts";

/** Everything a checkpoint file holds. */
export interface Checkpoint {
  /** Shape of the model; stored as the `config` metadata. */
  readonly config: ModelConfig;
  /** The V symbols of the vocabulary, or undefined when the file has none (e.g. token-id models). */
  readonly vocab: readonly string[] | undefined;
  /** All parameters in one flat array, in the paramSpecs(config) layout. */
  readonly params: Float32Array;
  /** Other tensors (optimizer state...): kept and written back, never required. */
  readonly extra: ReadonlyMap<string, Tensor>;
  /** Other metadata keys (e.g. "train" JSON), passed through. Never "format", "config" or "vocab". */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The value of the `format` metadata key. */
export const CHECKPOINT_FORMAT = "bptt";
/** Metadata keys owned by the checkpoint format. */
const RESERVED_METADATA = ["format", "config", "vocab"] as const;
/** Names of the stack's tensors in any configuration. */
const STACK_TENSOR = /^rnn\.(weight|bias)_(ih|hh)_l\d+$/;
/** Names of every registered input's and head's tensors in any configuration. */
const UNIT_TENSORS: ReadonlySet<string> = new Set([...Object.values(INPUTS), ...Object.values(HEADS)].flatMap((unit) => unit.tensorNames));

/** Whether a name is one of the model's own tensors in some configuration; such a name outside paramSpecs means a config mismatch. */
function isModelTensor(name: string): boolean {
  return STACK_TENSOR.test(name) || UNIT_TENSORS.has(name);
}

/**
 * The model's tensors under their PyTorch names, in paramSpecs order, e.g. to write
 * parameters or gradients with `serializeSafetensors`.
 * @param config model shape
 * @param params flat array of length paramCount(config)
 * @param dtype element type of the result
 * @returns [name, tensor] pairs; views of `params` when its type matches `dtype`, copies otherwise
 * @throws ShapeError when `params` has the wrong length
 */
export function modelTensors(config: ModelConfig, params: Float32Array | Float64Array, dtype: DType): [string, Tensor][] {
  const count = paramCount(config);
  if (params.length !== count) {
    throw new ShapeError(
      `params has ${params.length} values; expected ${count} for ${describeConfig(config)}`,
    );
  }
  return paramSpecs(config).map((s): [string, Tensor] => {
    const view = params.subarray(s.offset, s.offset + s.size);
    const shape = s.shape.slice();
    if (dtype === "F32") {
      return [s.name, { dtype, shape, data: view instanceof Float32Array ? view : Float32Array.from(view) }];
    }
    return [s.name, { dtype, shape, data: view instanceof Float64Array ? view : Float64Array.from(view) }];
  });
}

/**
 * Serialize a checkpoint to safetensors bytes: the concatenation of `checkpointToParts`, in one fresh array
 * (e.g. for a download in the browser). To write a file, `saveCheckpoint` writes the parts instead.
 * @param ckpt the checkpoint; its parameters must be finite
 * @returns the file's bytes
 * @throws ConfigError for an invalid config
 * @throws ShapeError when params has the wrong length
 * @throws CheckpointError for a bad vocabulary, non-finite parameters, a reserved metadata key or an extra tensor that clashes with the model's names
 */
export function checkpointToBytes(ckpt: Checkpoint): Uint8Array {
  const { tensors, metadata } = checkedContent(ckpt);
  return serializeSafetensors(tensors, metadata);
}

/**
 * The checkpoint file as parts to write in order (see `safetensorsParts`): the header, then each
 * tensor's bytes as a view of `ckpt.params` and of the extra tensors, not a copy. Saving therefore
 * needs no whole-file buffer: peak memory while saving is the tensors themselves plus the header.
 * Every check runs before any part is made, so a refused checkpoint never starts a write.
 * @param ckpt the checkpoint; its parameters must be finite, and must not change until the parts are written
 * @returns the parts; their concatenation is `checkpointToBytes(ckpt)`
 * @throws as checkpointToBytes
 */
export function checkpointToParts(ckpt: Checkpoint): Uint8Array[] {
  const { tensors, metadata } = checkedContent(ckpt);
  return safetensorsParts(tensors, metadata);
}

/** The tensors and metadata of a checkpoint's file, after every check a reader would make. */
function checkedContent(ckpt: Checkpoint): { tensors: [string, Tensor][]; metadata: Record<string, string> } {
  // parseModelConfig also checks what the type already promises (cell, bias), as the reader will.
  const config = parseModelConfig(ckpt.config, "cannot save checkpoint");
  const tensors = modelTensors(config, ckpt.params, "F32");
  // Refuse to write a file that could not be read back (a diverged model would overwrite the last good save).
  for (const [name, t] of tensors) {
    const bad = firstNonFinite(t.data);
    if (bad >= 0) {
      throw new CheckpointError(
        `cannot save checkpoint: ${name}[${bad}] is ${t.data[bad]}; expected finite parameters. Training diverged: lower the learning rate or clip gradients, and keep the previous checkpoint`,
      );
    }
  }
  if (ckpt.vocab !== undefined) checkVocab(ckpt.vocab, config.vocabSize, "cannot save checkpoint");
  const modelNames = new Set(tensors.map(([name]) => name));
  for (const name of ckpt.extra.keys()) {
    if (modelNames.has(name) || isModelTensor(name)) {
      throw new CheckpointError(
        `cannot save checkpoint: extra tensor ${JSON.stringify(name)} uses a model parameter name; expected another name (e.g. "optim.${name}")`,
      );
    }
  }
  for (const key of RESERVED_METADATA) {
    if (Object.prototype.hasOwnProperty.call(ckpt.metadata, key)) {
      throw new CheckpointError(
        `cannot save checkpoint: metadata key ${JSON.stringify(key)} is written from the checkpoint itself; expected other keys in ckpt.metadata (set ckpt.config / ckpt.vocab instead)`,
      );
    }
  }
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT, config: modelConfigJson(config) };
  if (ckpt.vocab !== undefined) metadata["vocab"] = JSON.stringify(ckpt.vocab);
  const all = Object.fromEntries([...Object.entries(metadata), ...Object.entries(ckpt.metadata)]) as Record<string, string>;
  return { tensors: [...tensors, ...ckpt.extra], metadata: all };
}

/**
 * A copy that owns its arrays: for keeping a checkpoint whose arrays view live state (the one
 * `train` hands to `save`) beyond the moment.
 * @param ckpt the checkpoint
 * @returns the same content in fresh arrays (config, vocabulary and metadata are immutable and shared)
 */
export function cloneCheckpoint(ckpt: Checkpoint): Checkpoint {
  const extra = new Map<string, Tensor>();
  for (const [name, t] of ckpt.extra) extra.set(name, { dtype: t.dtype, shape: t.shape.slice(), data: t.data.slice() });
  return { config: ckpt.config, vocab: ckpt.vocab, params: ckpt.params.slice(), extra, metadata: { ...ckpt.metadata } };
}

/**
 * Read a checkpoint from safetensors bytes. The input is untrusted: anything malformed or
 * inconsistent gives a CheckpointError naming `source`.
 * @param bytes the whole file
 * @param source name of the file, for error messages
 * @returns the checkpoint, parameters converted to float32
 * @throws CheckpointError naming the first problem found
 */
export function checkpointFromBytes(bytes: Uint8Array, source: string): Checkpoint {
  const file = parseSafetensors(bytes, source);
  const fail = (problem: string): CheckpointError => new CheckpointError(`${source}: ${problem}`);
  const meta = file.metadata;
  const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(meta, key);

  if (!has("format")) {
    throw fail(
      `metadata has no "format"; expected "${CHECKPOINT_FORMAT}". A PyTorch state dict needs metadata format/config/vocab: ` +
        `save_file(model.state_dict(), path, metadata={"format": "bptt", "config": json.dumps({"cell": "rnn", "nonlinearity": "tanh", "layers": 1, "hiddenSize": H, "vocabSize": V, "bias": True}), "vocab": json.dumps(symbols)})`,
    );
  }
  if (meta["format"] !== CHECKPOINT_FORMAT) {
    throw fail(`metadata format is ${describe(meta["format"])}; expected "${CHECKPOINT_FORMAT}". This file was written by another program`);
  }
  if (!has("config")) {
    throw fail(`metadata has no "config"; expected JSON such as {"cell":"rnn","nonlinearity":"tanh","layers":1,"hiddenSize":128,"vocabSize":65,"bias":true}`);
  }
  let rawConfig: unknown;
  try {
    rawConfig = JSON.parse(meta["config"] as string);
  } catch (e) {
    throw fail(`metadata config is not JSON (${e instanceof Error ? e.message : String(e)}); expected a JSON object. The file is corrupt`);
  }
  let config: ModelConfig;
  try {
    config = parseModelConfig(rawConfig, source);
  } catch (e) {
    if (e instanceof ConfigError) throw new CheckpointError(e.message); // the message already starts with `source`
    throw e;
  }

  let vocab: string[] | undefined;
  if (has("vocab")) {
    let raw: unknown;
    try {
      raw = JSON.parse(meta["vocab"] as string);
    } catch (e) {
      throw fail(`metadata vocab is not JSON (${e instanceof Error ? e.message : String(e)}); expected a JSON array of ${config.vocabSize} strings`);
    }
    vocab = checkVocab(raw, config.vocabSize, source);
  }

  // Check every name and shape before allocating: a tiny file must not make us allocate gigabytes.
  const specs = paramSpecs(config);
  const specNames = new Set(specs.map((s) => s.name));
  for (const name of file.tensors.keys()) {
    if (!specNames.has(name) && isModelTensor(name)) {
      const why = /bias/.test(name) && !config.bias
        ? "config says bias: false"
        : `config says layers ${config.layers}`;
      throw fail(`has tensor ${name} but ${why}; expected exactly the tensors of the config. The config and the weights disagree`);
    }
  }
  for (const s of specs) {
    const t = file.tensors.get(s.name);
    if (t === undefined) {
      throw fail(`has no tensor ${s.name} [${s.shape.join(", ")}]; expected it for ${describeConfig(config)}. The file is incomplete or the config is wrong`);
    }
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw fail(`${s.name} has shape [${t.shape.join(", ")}]; expected [${s.shape.join(", ")}] for ${shapeReason(s, config)}`);
    }
  }

  const params = new Float32Array(paramCount(config));
  for (const s of specs) {
    const t = file.tensors.get(s.name) as Tensor;
    params.set(t.data, s.offset); // F64 → float32 rounds; values beyond float32 range become ±Infinity
    const bad = firstNonFinite(params.subarray(s.offset, s.offset + s.size));
    if (bad >= 0) {
      const what = Number.isNaN(params[s.offset + bad]) ? "NaN" : t.dtype === "F64" && Number.isFinite(t.data[bad]) ? `${t.data[bad]}, beyond float32 range` : String(params[s.offset + bad]);
      throw fail(`${s.name}[${bad}] is ${what}; expected finite weights. The model diverged before it was saved: use an earlier checkpoint`);
    }
  }

  const extra = new Map<string, Tensor>();
  for (const [name, t] of file.tensors) if (!specNames.has(name)) extra.set(name, t);
  const metadata = Object.fromEntries(
    Object.entries(meta).filter(([k]) => !(RESERVED_METADATA as readonly string[]).includes(k)),
  ) as Record<string, string>;
  return { config, vocab, params, extra, metadata };
}

/** Check a vocabulary from outside: exactly `vocabSize` distinct non-empty strings. */
function checkVocab(raw: unknown, vocabSize: number, where: string): string[] {
  if (!Array.isArray(raw)) {
    throw new CheckpointError(`${where}: vocab is ${describe(raw)}; expected a JSON array of ${vocabSize} strings`);
  }
  if (raw.length !== vocabSize) {
    throw new CheckpointError(`${where}: vocab has ${raw.length} symbols; expected vocabSize = ${vocabSize} (the config and the vocabulary disagree)`);
  }
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const s: unknown = raw[i];
    if (typeof s !== "string" || s === "") {
      throw new CheckpointError(`${where}: vocab[${i}] is ${describe(s)}; expected a non-empty string`);
    }
    if (seen.has(s)) throw new CheckpointError(`${where}: vocab[${i}] = ${describe(s)} appears twice; expected distinct symbols`);
    seen.add(s);
  }
  return raw.slice() as string[];
}

/** Index of the first NaN or ±Infinity, or −1. */
function firstNonFinite(a: Float32Array | Float64Array): number {
  for (let i = 0; i < a.length; i++) {
    // x − x is 0 for finite x and NaN for NaN and ±Infinity: one test, no call.
    const x = a[i];
    if (x - x !== 0) return i;
  }
  return -1;
}

function describeConfig(c: ModelConfig): string {
  const input = inputOf(c).name === DEFAULT_INPUT ? "" : `input ${inputOf(c).name}, `;
  const head = headOf(c).name === DEFAULT_HEAD ? "" : `, head ${headOf(c).name}`;
  return `${input}cell ${c.cell}, layers ${c.layers}, hiddenSize ${c.hiddenSize}, vocabSize ${c.vocabSize}, bias ${c.bias}${head}`;
}

/**
 * Which config fields determine a tensor's shape, e.g. "hiddenSize 128, vocabSize 65" or "cell lstm (4 gate blocks), hiddenSize 128".
 * An input's or a head's tensor: the unit's sizes, and hiddenSize for a matrix (the softmax head's fc.weight).
 */
function shapeReason(s: ParamSpec, c: ModelConfig): string {
  const unit = [inputOf(c), headOf(c)].find((u) => u.tensors(c).some((t) => t.name === s.name));
  if (unit !== undefined) return s.shape.length > 1 ? `${unit.sizes(c)}, hiddenSize ${c.hiddenSize}` : unit.sizes(c);
  const G = gateCount(c);
  const cell = G === 1 ? "" : `cell ${c.cell} (${G} gate blocks: ${cellOf(c.cell).gateNames.join(", ")}), `;
  if (s.name.startsWith("rnn.weight_ih_l0")) return `${cell}hiddenSize ${c.hiddenSize}, ${inputOf(c).sizes(c)}`;
  return `${cell}hiddenSize ${c.hiddenSize}`;
}
