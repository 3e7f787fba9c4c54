/**
 * The protocol between a ThreadedLmEngine (src/model/threaded.ts) and its worker threads
 * (src/model/thread-worker.ts): one control block in a SharedArrayBuffer with one slot per worker,
 * and everything else in the WebAssembly kernels' shared memory, which every thread maps. The same
 * in Node (worker_threads) and in browsers (nested dedicated Workers): only how a worker is started
 * differs (thread-host.ts), and nothing here needs a message port.
 *
 * A job is one slice of the batch (a few of the B streams) through forward, or forward and BPTT.
 * The engine owns all memory: it allocates each slice's activations, gradients and h_0 and writes
 * their byte offsets, the model shape and the command into the worker's slot as float64 words,
 * then bumps the slot's `job` word and notifies. The worker runs the job with the same code the
 * engine's own thread runs (lmForward, lmBackward), writes the loss, sets `done` to the job number
 * and notifies. So a step costs one wake-up and one wait per worker, not one per kernel call.
 *
 * Slot layout (SLOT_BYTES each): int32 words JOB, DONE, FAILED, ERROR_LENGTH, ENDED at the start,
 * then float64 words from byte F64_AT on, indexed by the F_ constants below, then from byte ERROR_AT
 * the text of a failed job's error as UTF-16 code units. The error travels in the slot, not on a port,
 * because the engine reads it synchronously right after its wait, and a browser has no synchronous
 * receive (Node's receiveMessageOnPort). Plain data, no Node imports: both sides and the tests use it.
 *
 * A worker that ends (process.exit in it, an uncaught error; Node reports neither to the engine's
 * thread while it waits) says so in its slot with `markEnded`: DONE becomes DONE_ENDED, which wakes
 * the engine at once. A worker that cannot say so (Node ends a thread that runs out of memory with no
 * JavaScript run after; a hang) is caught by the engine's bounded wait instead (threaded.ts).
 */
import { CELL_NAMES } from "../cells/index.ts";
import type { CellName } from "../cells/types.ts";
import { DEFAULT_HEAD, HEAD_NAMES, type HeadName } from "../heads/index.ts";
import { DEFAULT_INPUT, INPUT_NAMES, type InputName } from "../inputs/index.ts";
import type { Dropout } from "../nn/dropout.ts";
import type { ModelConfig, Nonlinearity } from "./config.ts";
import { NONLINEARITIES } from "./config.ts";

/** Bytes of one worker's slot in the control block (whole cache lines, so that slots never share one). */
export const SLOT_BYTES = 4096;

// int32 words of a slot
/** Job number, written by the engine (then Atomics.notify). */
export const I_JOB = 0;
/** Number of the last job the worker finished, written by the worker (then Atomics.notify). */
export const I_DONE = 1;
/** 1 when the last job threw; the worker has written the error's text into the slot (ERROR_AT). */
export const I_FAILED = 2;
/** UTF-16 code units of the error text at ERROR_AT. */
export const I_ERROR_LENGTH = 3;
/** 1 once `markEnded` has claimed the slot's error text for the worker's end (whoever came first: the worker or its host). */
export const I_ENDED = 4;
/** The value of DONE once the worker has ended: no job number (they count up from 1). */
export const DONE_ENDED = -1;
/** Byte offset of the float64 words in a slot. */
export const F64_AT = 24;
/** Byte offset of the error text in a slot, after the float64 words. */
export const ERROR_AT = 256;
/** Longest error text a slot holds, in UTF-16 code units; a longer one is cut (its first lines are the message). */
export const ERROR_UNITS = (SLOT_BYTES - ERROR_AT) / 2;

// float64 words of a slot (index into the Float64Array that starts at F64_AT)
/** Command: one of COMMAND. */
export const F_COMMAND = 0;
/** ModelConfig.layers, hiddenSize, vocabSize; the nonlinearity's index in NONLINEARITIES; bias 0/1 (the cell: F_CELL; input and head: F_INPUT, F_HEAD). */
export const F_LAYERS = 1;
export const F_HIDDEN = 2;
export const F_VOCAB = 3;
export const F_NONLINEARITY = 4;
export const F_BIAS = 5;
/** Steps T and the slice's number of sequences B. */
export const F_T = 6;
export const F_B = 7;
/** Byte offsets in the shared memory: parameters (P floats), this slice's gradients (P floats). */
export const F_PARAMS = 8;
export const F_GRADS = 9;
/** Byte offset and length (floats) of this slice's LmBuffers block (createLmBuffers). */
export const F_BUFFERS = 10;
export const F_BUFFER_FLOATS = 11;
/** Byte offset of this slice's initial state (S, L, B, H), or −1 for zeros. */
export const F_STATE0 = 12;
/** Gradient scale (1/(T·B) of the whole batch for the mean loss). */
export const F_SCALE = 13;
/** Result: the slice's loss E (summed over its steps and sequences). */
export const F_LOSS = 14;
/** ModelConfig.cell: its index in CELL_NAMES. */
export const F_CELL = 15;
/** Dropout of this job (src/nn/dropout.ts): p between layers and before the output layer (0 = none), the pass's seed. */
export const F_DROPOUT = 16;
export const F_OUTPUT_DROPOUT = 17;
export const F_DROPOUT_SEED = 18;
/** Where the slice sits in the full batch: its first stream and the batch's streams (dropout masks are keyed by it). */
export const F_B0 = 19;
export const F_B_TOTAL = 20;
/** Which layers' outputs the slice's buffers have room to drop out, as a bit mask (bit l = layer l). */
export const F_DROPPED = 21;
/** ModelConfig's input and head: their indices in INPUT_NAMES and HEAD_NAMES. */
export const F_INPUT = 22;
export const F_HEAD = 23;
/** Number of float64 words used. */
export const F64_WORDS = 24;

/** Commands of a job. */
export const COMMAND = { forward: 1, forwardBackward: 2, quit: 3 } as const;

/** What a worker is started with: its start message (Node: `workerData`; browsers: its first message). */
export interface WorkerStart {
  /** The owner's compiled kernels (WasmKernels.module). */
  readonly module: WebAssembly.Module;
  /** The owner's shared memory (WasmKernels.memory). */
  readonly memory: WebAssembly.Memory;
  /** The control block. */
  readonly control: SharedArrayBuffer;
  /** This worker's slot index in the control block. */
  readonly slot: number;
  /** Byte offset of this worker's gemm scratch block in `memory`. */
  readonly scratch: number;
}

/**
 * Write a failed job's error text into a worker's slot (cut to ERROR_UNITS), before the worker sets
 * FAILED and DONE: the engine reads it after its Atomics wait, which orders it after these writes.
 * @param control the control block
 * @param slot the worker's slot
 * @param text the error's text (its stack, where there is one)
 */
export function writeErrorText(control: SharedArrayBuffer, slot: number, text: string): void {
  const n = Math.min(text.length, ERROR_UNITS);
  const units = new Uint16Array(control, slot * SLOT_BYTES + ERROR_AT, ERROR_UNITS);
  for (let i = 0; i < n; i++) units[i] = text.charCodeAt(i);
  new Int32Array(control, slot * SLOT_BYTES, F64_AT / 4)[I_ERROR_LENGTH] = n;
}

/**
 * Say in a worker's slot that the worker has ended, and why, and wake the engine if it waits for
 * the worker's job: DONE becomes DONE_ENDED, the error text `why`. The first call for a slot wins
 * (the worker's own account, written as it goes, is more precise than its host's, written later on
 * the engine's thread); later ones change nothing.
 * @param control the control block
 * @param slot the worker's slot
 * @param why how it ended, a phrase after "it": e.g. "exited with code 7"
 * @returns whether this call marked it
 */
export function markEnded(control: SharedArrayBuffer, slot: number, why: string): boolean {
  const words = new Int32Array(control, slot * SLOT_BYTES, F64_AT / 4);
  if (Atomics.compareExchange(words, I_ENDED, 0, 1) !== 0) return false;
  writeErrorText(control, slot, why);
  Atomics.store(words, I_DONE, DONE_ENDED); // after the text: the engine reads it once it sees DONE_ENDED
  Atomics.notify(words, I_DONE);
  return true;
}

/**
 * Read the error text `writeErrorText` wrote.
 * @param control the control block
 * @param slot the worker's slot
 * @returns the text ("" when none was written)
 */
export function readErrorText(control: SharedArrayBuffer, slot: number): string {
  const n = new Int32Array(control, slot * SLOT_BYTES, F64_AT / 4)[I_ERROR_LENGTH];
  const units = new Uint16Array(control, slot * SLOT_BYTES + ERROR_AT, n);
  let text = "";
  // in pieces: String.fromCharCode takes its arguments on the stack
  for (let i = 0; i < n; i += 1024) text += String.fromCharCode(...units.subarray(i, Math.min(n, i + 1024)));
  return text;
}

/**
 * Write a model shape into a slot's float64 words.
 * @param f64 the slot's float64 words
 * @param config model shape
 */
export function writeConfig(f64: Float64Array, config: ModelConfig): void {
  f64[F_LAYERS] = config.layers;
  f64[F_HIDDEN] = config.hiddenSize;
  f64[F_VOCAB] = config.vocabSize;
  f64[F_NONLINEARITY] = NONLINEARITIES.indexOf(config.nonlinearity);
  f64[F_BIAS] = config.bias ? 1 : 0;
  f64[F_CELL] = CELL_NAMES.indexOf(config.cell);
  f64[F_INPUT] = INPUT_NAMES.indexOf(config.input ?? DEFAULT_INPUT);
  f64[F_HEAD] = HEAD_NAMES.indexOf(config.head ?? DEFAULT_HEAD);
}

/**
 * Read the model shape `writeConfig` wrote.
 * @param f64 the slot's float64 words
 * @returns the shape
 */
export function readConfig(f64: Float64Array): ModelConfig {
  const nonlinearity: Nonlinearity | undefined = NONLINEARITIES[f64[F_NONLINEARITY]];
  if (nonlinearity === undefined) throw new Error(`thread protocol: bad nonlinearity index ${f64[F_NONLINEARITY]}`);
  const cell: CellName | undefined = CELL_NAMES[f64[F_CELL]];
  if (cell === undefined) throw new Error(`thread protocol: bad cell index ${f64[F_CELL]}`);
  const input: InputName | undefined = INPUT_NAMES[f64[F_INPUT]];
  if (input === undefined) throw new Error(`thread protocol: bad input index ${f64[F_INPUT]}`);
  const head: HeadName | undefined = HEAD_NAMES[f64[F_HEAD]];
  if (head === undefined) throw new Error(`thread protocol: bad head index ${f64[F_HEAD]}`);
  return {
    ...(input === DEFAULT_INPUT ? {} : { input }),
    cell, nonlinearity, layers: f64[F_LAYERS], hiddenSize: f64[F_HIDDEN], vocabSize: f64[F_VOCAB], bias: f64[F_BIAS] === 1,
    ...(head === DEFAULT_HEAD ? {} : { head }),
  };
}

/**
 * Write a job's dropout into a slot's float64 words.
 * @param f64 the slot's float64 words
 * @param dropout the pass's dropout, or undefined for none
 */
export function writeDropout(f64: Float64Array, dropout: Dropout | undefined): void {
  f64[F_DROPOUT] = dropout?.p ?? 0;
  f64[F_OUTPUT_DROPOUT] = dropout?.outputP ?? 0;
  f64[F_DROPOUT_SEED] = dropout?.seed ?? 0;
}

/**
 * The `dropped` option of createLmBuffers as a bit mask, and back (layers ≤ MAX_LAYERS = 64 fit a float64's 53 bits? no: at most 52 layers are encoded; more is refused).
 * @param dropped per layer
 * @returns the mask
 */
export function droppedMask(dropped: readonly boolean[]): number {
  let m = 0;
  dropped.forEach((d, l) => {
    if (!d) return;
    if (l >= 52) throw new Error("thread protocol: dropout room is encoded for at most 52 layers");
    m += 2 ** l;
  });
  return m;
}

/**
 * @param mask a mask from `droppedMask`
 * @param L layers
 * @returns per layer, whether its output has room to be dropped out
 */
export function droppedFromMask(mask: number, L: number): boolean[] {
  return Array.from({ length: L }, (_, l) => Math.floor(mask / 2 ** l) % 2 === 1);
}

/**
 * Read the dropout `writeDropout` wrote.
 * @param f64 the slot's float64 words
 * @returns the dropout, or undefined for none
 */
export function readDropout(f64: Float64Array): Dropout | undefined {
  const p = f64[F_DROPOUT], outputP = f64[F_OUTPUT_DROPOUT];
  return p === 0 && outputP === 0 ? undefined : { p, outputP, seed: f64[F_DROPOUT_SEED] };
}

/**
 * Check a worker's start message, which arrives as `unknown`.
 * @param data `workerData` in Node, the first message in a browser
 * @returns it, typed
 * @throws Error naming the first field that is missing or of the wrong type
 */
export function parseWorkerStart(data: unknown): WorkerStart {
  if (typeof data !== "object" || data === null) throw new Error("thread worker: the start message must be an object");
  const d = data as Record<string, unknown>;
  const check = (key: string, ok: boolean): void => {
    if (!ok) throw new Error(`thread worker: the start message's ${key} is missing or of the wrong type`);
  };
  check("module", d["module"] instanceof WebAssembly.Module);
  check("memory", d["memory"] instanceof WebAssembly.Memory);
  check("control", d["control"] instanceof SharedArrayBuffer);
  check("slot", Number.isInteger(d["slot"]));
  check("scratch", Number.isInteger(d["scratch"]));
  return d as unknown as WorkerStart;
}
