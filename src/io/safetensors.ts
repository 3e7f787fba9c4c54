/**
 * The safetensors format, read and written by hand (no dependency):
 *
 *   bytes [0, 8)        N, a little-endian u64: the length of the header
 *   bytes [8, 8+N)      the header, UTF-8 JSON: an object mapping each tensor name to
 *                       {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *                       plus an optional "__metadata__" object of string → string
 *   bytes [8+N, size)   the byte buffer; offsets are relative to its start, the data of
 *                       each tensor is row-major and little-endian
 *
 * Files come from outside (a download, another tool, a half-written save), so the reader
 * trusts nothing: every length is checked before it is used to slice or allocate, and the
 * tensors must tile the buffer exactly, as the reference Rust implementation requires.
 * This module is pure (no file system): the browser uses it too. See `atomic.ts` for files.
 */
import { concatBytes } from "../bytes.ts";
import { CheckpointError, ShapeError } from "../errors.ts";
import { describe } from "../model/config.ts";

/** Element types bptt keeps in memory: float32 (the engine) and float64 (the reference, gradients). */
export type DType = "F32" | "F64";

/** One tensor: a row-major array and its shape. */
export interface Tensor {
  /** Element type; F32 data is a Float32Array, F64 data a Float64Array. */
  readonly dtype: DType;
  /** Row-major shape; [] is a scalar (one element). */
  readonly shape: readonly number[];
  /** The values; length = product of shape. */
  readonly data: Float32Array | Float64Array;
}

/** The content of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in the order of their data in the file. F16 and BF16 tensors are decoded to F32. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The "__metadata__" map; {} when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Largest header accepted, in bytes (the limit of the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Largest rank accepted for a tensor. */
export const MAX_RANK = 8;

/** Every dtype of the safetensors specification, with its size in bytes (sub-byte ones: 0, never decoded). */
const KNOWN_DTYPES: ReadonlyMap<string, number> = new Map([
  ["BOOL", 1], ["U8", 1], ["I8", 1], ["F8_E5M2", 1], ["F8_E4M3", 1], ["F8_E8M0", 1],
  ["I16", 2], ["U16", 2], ["F16", 2], ["BF16", 2],
  ["I32", 4], ["U32", 4], ["F32", 4],
  ["F64", 8], ["I64", 8], ["U64", 8], ["C64", 8],
  ["F4", 0], ["F6_E2M3", 0], ["F6_E3M2", 0],
]);
/** The dtypes this reader decodes; F16 and BF16 become float32. */
const DECODED_DTYPES: ReadonlyMap<string, number> = new Map([["F16", 2], ["BF16", 2], ["F32", 4], ["F64", 8]]);
const ENTRY_KEYS = ["dtype", "shape", "data_offsets"] as const;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A validated header entry. */
interface Entry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly count: number;
  readonly begin: number;
  readonly end: number;
}

/**
 * Parse a safetensors file held in memory. The input is untrusted: any malformed or
 * inconsistent file gives a CheckpointError whose message starts with `source`.
 * Note: when a header repeats a JSON key, JSON.parse keeps the last one (so does serde).
 * @param bytes the whole file (never aliased: every tensor is copied into a fresh, aligned array)
 * @param source name of the file, for error messages
 * @returns the tensors, in the order of their data, and the metadata
 * @throws CheckpointError naming the first problem found
 */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  const fail: (problem: string) => never = (problem) => {
    throw new CheckpointError(`${source}: ${problem}`);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes; a safetensors file has at least 8 (the header length). It is empty or truncated: save it again`);
  }
  // Compare as bigint before converting: a u64 can exceed 2^53 and must never size an allocation unchecked.
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length is ${n64} bytes; expected at most ${MAX_HEADER_BYTES} (the safetensors limit). This is not a safetensors file, or it is corrupt`);
  }
  const n = Number(n64);
  if (n > bytes.length - 8) {
    fail(`header length is ${n} bytes but only ${bytes.length - 8} follow the length field; expected a complete file. It is truncated: save it again`);
  }
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it like the reference reader.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail(`header is not valid UTF-8; expected UTF-8 JSON. The file is corrupt or not a safetensors file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not JSON (${e instanceof Error ? e.message : String(e)}); expected a JSON object. The file is corrupt or not a safetensors file`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(`header is ${describe(header)}; expected a JSON object of tensors. The file is corrupt or not a safetensors file`);
  }
  const bufferStart = 8 + n;
  const bufferLength = bytes.length - bufferStart;

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(value, fail);
    } else {
      entries.push(parseEntry(name, value, bufferLength, fail));
    }
  }

  // The tensors must tile the buffer: sorted by offsets, each begins where the previous ended.
  const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.begin - b.e.begin || a.e.end - b.e.end || a.i - b.i);
  let at = 0;
  for (const { e } of sorted) {
    if (e.begin < at) {
      fail(`tensor ${JSON.stringify(e.name)} has data_offsets [${e.begin}, ${e.end}], overlapping the previous tensor, which ends at ${at}; expected tensors that do not overlap. The file is corrupt`);
    }
    if (e.begin > at) {
      fail(`tensor ${JSON.stringify(e.name)} begins at byte ${e.begin} but the previous data ends at ${at}; expected contiguous data without gaps. The file is corrupt`);
    }
    at = e.end;
  }
  if (at !== bufferLength) {
    fail(`tensor data ends at byte ${at} of a ${bufferLength}-byte buffer; expected the last tensor to end exactly at the end of the file. It is truncated or has trailing bytes`);
  }

  const tensors = new Map<string, Tensor>();
  for (const { e } of sorted) tensors.set(e.name, decode(bytes, bufferStart, e));
  return { tensors, metadata };
}

function parseMetadata(value: unknown, fail: (problem: string) => never): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`"__metadata__" is ${describe(value)}; expected an object of string values`);
  }
  const pairs = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of pairs) {
    if (typeof v !== "string") fail(`"__metadata__" key ${JSON.stringify(k)} is ${describe(v)}; expected a string (store JSON as a string)`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
  return Object.fromEntries(pairs) as Record<string, string>;
}

function parseEntry(name: string, value: unknown, bufferLength: number, fail: (problem: string) => never): Entry {
  const t = JSON.stringify(name);
  if (name === "") fail(`a tensor has an empty name; expected a non-empty name`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`tensor ${t} is ${describe(value)}; expected an object with dtype, shape and data_offsets`);
  }
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const k of keys) {
    if (!(ENTRY_KEYS as readonly string[]).includes(k)) {
      fail(`tensor ${t} has unknown key ${JSON.stringify(k)}; expected only dtype, shape and data_offsets`);
    }
  }
  for (const k of ENTRY_KEYS) {
    if (!keys.includes(k)) fail(`tensor ${t} has no ${k}; expected dtype, shape and data_offsets`);
  }

  const dtype = o["dtype"];
  if (typeof dtype !== "string" || !KNOWN_DTYPES.has(dtype)) {
    fail(`tensor ${t} has unknown dtype ${describe(dtype)}; expected a safetensors dtype such as "F32"`);
  }
  const size = DECODED_DTYPES.get(dtype as string);
  if (size === undefined) {
    return fail(`unsupported dtype ${dtype as string} for tensor ${t}; expected F32, F64, F16 or BF16. Convert it to float32 before saving`);
  }

  const shape = o["shape"];
  if (!Array.isArray(shape)) return fail(`tensor ${t} has shape ${describe(shape)}; expected an array of dimensions`);
  if (shape.length > MAX_RANK) fail(`tensor ${t} has rank ${shape.length}; expected at most ${MAX_RANK}`);
  let elements = 1n;
  for (const d of shape as unknown[]) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      fail(`tensor ${t} has shape ${describe(shape)}; expected dimensions that are integers ≥ 0`);
    }
    elements *= BigInt(d as number);
  }

  const offsets = o["data_offsets"];
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0)
  ) {
    return fail(`tensor ${t} has data_offsets ${describe(offsets)}; expected [begin, end], two integers ≥ 0`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > bufferLength) {
    fail(`tensor ${t} has data_offsets [${begin}, ${end}]; expected begin ≤ end ≤ ${bufferLength} (the size of the data buffer). The file is truncated or corrupt`);
  }
  // Exact integer arithmetic: an absurd shape must not overflow into a match.
  const expected = elements * BigInt(size);
  if (BigInt(end - begin) !== expected) {
    fail(`tensor ${t} (${dtype as string}, shape [${(shape as number[]).join(", ")}]) has ${end - begin} bytes; expected ${expected}. The file is corrupt`);
  }
  return { name, dtype: dtype as string, shape: (shape as number[]).slice(), count: Number(elements), begin, end };
}

/** Copy one tensor out of the file into a fresh array (never a view of the input). */
function decode(bytes: Uint8Array, bufferStart: number, e: Entry): Tensor {
  const start = bufferStart + e.begin;
  const raw = new Uint8Array(e.end - e.begin); // fresh, aligned, owned
  raw.set(bytes.subarray(start, bufferStart + e.end));
  const view = new DataView(raw.buffer);
  const n = e.count;
  switch (e.dtype) {
    case "F32": {
      if (HOST_LITTLE_ENDIAN) return { dtype: "F32", shape: e.shape, data: new Float32Array(raw.buffer) };
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return { dtype: "F32", shape: e.shape, data: out };
    }
    case "F64": {
      if (HOST_LITTLE_ENDIAN) return { dtype: "F64", shape: e.shape, data: new Float64Array(raw.buffer) };
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return { dtype: "F64", shape: e.shape, data: out };
    }
    case "BF16": {
      // bfloat16 is the top half of a float32: shift the bits up.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return { dtype: "F32", shape: e.shape, data: out };
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return { dtype: "F32", shape: e.shape, data: out };
    }
    default:
      throw new Error(`internal: no decoder for ${e.dtype}`);
  }
}

/** IEEE 754 binary16 → number (exact). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Serialize tensors and metadata to safetensors bytes, readable by the official
 * `safetensors` package and by torch. Tensors are laid out in the given order; the header
 * is padded with spaces so the data starts 8-byte aligned; "__metadata__" is omitted when empty.
 * This is the concatenation of `safetensorsParts`; to write a file, pass the parts themselves
 * (as `saveCheckpoint` does) and skip this whole-file copy.
 * @param tensors name → tensor pairs; names must be non-empty, unique and not "__metadata__"
 * @param metadata string → string map stored as "__metadata__"
 * @returns the file's bytes (a fresh array)
 * @throws ShapeError when a tensor's data length or type does not match its shape or dtype
 * @throws CheckpointError for a bad name or metadata value
 */
export function serializeSafetensors(
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  return concatBytes(safetensorsParts(tensors, metadata));
}

/**
 * The same file as `serializeSafetensors`, as a list of parts to write one after the other:
 * first the length field and the padded header (one fresh array), then one part per tensor, in
 * order. On little-endian hosts (all current ones) a tensor's part is a Uint8Array view of exactly
 * its own bytes, not a copy, so writing a file needs no memory beyond the tensors and the header,
 * where a whole-file buffer would add the file's size again to the peak while saving (13.5 MiB
 * for a 1024-hidden char model with Adam state). On big-endian hosts each tensor's part is a
 * little-endian copy.
 * Because the parts alias the tensors, write them before the tensors change (writeFileAtomic is synchronous).
 * Everything is checked before the first part is made: an error means nothing was produced.
 * @param tensors name → tensor pairs; names must be non-empty, unique and not "__metadata__"
 * @param metadata string → string map stored as "__metadata__"
 * @returns the header, then the bytes of each tensor (views of `tensor.data` on little-endian hosts)
 * @throws ShapeError when a tensor's data length or type does not match its shape or dtype
 * @throws CheckpointError for a bad name or metadata value
 */
export function safetensorsParts(
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array[] {
  const list = [...tensors];
  const fields: string[] = [];
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    const kv = metaKeys.map((k) => {
      const v: unknown = metadata[k];
      if (typeof v !== "string") {
        throw new CheckpointError(`cannot save: metadata ${JSON.stringify(k)} is ${describe(v)}; expected a string (JSON.stringify it first)`);
      }
      return `${jsonString(k, "metadata key")}:${jsonString(v, `metadata ${JSON.stringify(k)}`)}`;
    });
    fields.push(`"__metadata__":{${kv.join(",")}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, t] of list) {
    if (name === "" || name === "__metadata__") {
      throw new CheckpointError(`cannot save: tensor name ${JSON.stringify(name)} is reserved or empty; expected a non-empty name other than "__metadata__"`);
    }
    if (seen.has(name)) throw new CheckpointError(`cannot save: tensor ${JSON.stringify(name)} appears twice; expected unique names`);
    seen.add(name);
    checkTensor(name, t);
    const bytes = t.data.byteLength;
    fields.push(`${jsonString(name, "tensor name")}:{"dtype":"${t.dtype}","shape":[${t.shape.join(",")}],"data_offsets":[${offset},${offset + bytes}]}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${fields.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length); // spaces: valid trailing JSON whitespace
  return [head, ...list.map(([, t]) => tensorBytes(t))];
}

/** A tensor's data as little-endian bytes: a view of exactly its bytes on little-endian hosts, a copy otherwise. */
function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data;
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const out = new Uint8Array(d.byteLength);
  const view = new DataView(out.buffer);
  if (t.dtype === "F32") for (let i = 0; i < d.length; i++) view.setFloat32(4 * i, d[i], true);
  else for (let i = 0; i < d.length; i++) view.setFloat64(8 * i, d[i], true);
  return out;
}

function checkTensor(name: string, t: Tensor): void {
  const what = `cannot save tensor ${JSON.stringify(name)}`;
  if (t.dtype === "F32" ? !(t.data instanceof Float32Array) : t.dtype === "F64" ? !(t.data instanceof Float64Array) : true) {
    throw new ShapeError(`${what}: dtype ${describe(t.dtype)} with a ${Object.prototype.toString.call(t.data).slice(8, -1)}; expected F32 with a Float32Array or F64 with a Float64Array`);
  }
  if (t.shape.length > MAX_RANK || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ShapeError(`${what}: shape ${describe(t.shape)}; expected at most ${MAX_RANK} integers ≥ 0`);
  }
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) {
    throw new ShapeError(`${what}: shape [${t.shape.join(", ")}] has ${count} elements but the data has ${t.data.length}; expected equal counts`);
  }
}

/** JSON string literal of a well-formed string (lone surrogates would make the header unreadable elsewhere). */
function jsonString(s: string, what: string): string {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) {
    throw new CheckpointError(`cannot save: ${what} ${describe(s)} has a lone UTF-16 surrogate; expected a well-formed Unicode string`);
  }
  return JSON.stringify(s);
}
