/**
 * Data-parallel training over both (all) cores: ThreadedLmEngine splits the batch's B streams into
 * contiguous slices, one per thread; every thread runs forward and full BPTT on its slice with the
 * same code (lmForward, lmBackward) and the same parameters — one WebAssembly memory shared by all
 * threads, so nothing is copied —, and the engine sums the slices' losses and gradients in a fixed
 * order. The optimizer then makes one update, as with one thread. Synchronisation: one wake-up and
 * one wait per worker and step (Atomics on a shared control block; see thread-protocol.ts).
 *
 * Streams are independent given h_0 (each row of the (T·B, ·) matrices is one stream), so the
 * sum over slices is the batch gradient; only the order of float32 additions differs from one
 * thread (in the dW GEMMs over rows, and in the final sum), so results agree to rounding
 * (test/threaded.test.ts: ~1e-7 relative).
 *
 * Measured on the 2-core machine of docs/speed.md (bench/README.md): see `chooseThreads` for when a
 * second thread pays. Workers need the WebAssembly kernels (shared memory). How they are started
 * is thread-host.ts's: Node's worker_threads by default (obtained at run time, so this module
 * imports nothing from Node); in a browser, the Worker of a host that the app registers in the
 * worker that owns the engine (`useThreadHost`, as the playground does); elsewhere one thread.
 */
import { ConfigError, ShapeError, ThreadError } from "../errors.ts";
import { wasmKernels } from "../kernels/index.ts";
import type { Kernels } from "../kernels/types.ts";
import type { WasmKernels } from "../kernels/wasm.ts";
import { batchLayouts, validateModelBatch, type DataLayout, type ModelBatch } from "./batch.ts";
import type { ModelConfig } from "./config.ts";
import { allocateOwned, freeOwned, ownKernelMemory, reuseOwned, type OwnedMemory, type ReusableBlock } from "../kernels/owned.ts";
import type { CellDiagnostics } from "../cells/types.ts";
import type { Dropout } from "../nn/dropout.ts";
import { buffersServe, checkState, createLmBuffers, droppedLayers, LmEngine, lmBackward, lmForward, type LmBuffers, type TrainingEngine } from "./lm.ts";
import { paramCount, paramViewsMemo, stateCount, stateLength, trainingFlopsPerToken, type ParamViews } from "./params.ts";
import { atomicsWaitAllowed, threadHost, threadHostRegistered, type HostedWorker, type ThreadHost, type WorkerEnd } from "./thread-host.ts";
import {
  COMMAND, DONE_ENDED, F64_AT, F64_WORDS, F_B, F_BUFFER_FLOATS, F_BUFFERS, F_COMMAND, F_GRADS, F_LOSS, F_PARAMS, F_SCALE, F_STATE0, F_T,
  F_B0, F_B_TOTAL, F_DROPPED, droppedMask, I_DONE, I_FAILED, I_JOB, readErrorText, SLOT_BYTES, writeConfig, writeDropout,
} from "./thread-protocol.ts";

/**
 * @returns the number of threads training uses by default: the cores available to this process
 *   (os.availableParallelism) in Node, navigator.hardwareConcurrency where a thread host is
 *   registered (a browser worker, `useThreadHost`), 1 elsewhere
 */
export function defaultThreads(): number {
  const os = globalThis.process?.getBuiltinModule?.("node:os");
  if (os !== undefined) return Math.max(1, os.availableParallelism());
  const cores = threadHostRegistered() ? globalThis.navigator?.hardwareConcurrency : undefined;
  return typeof cores === "number" && cores >= 1 ? Math.floor(cores) : 1;
}

/**
 * @returns whether this thread can run engines on worker threads: a thread host exists (Node, or
 *   one registered with `useThreadHost`) and this thread may wait for the workers (Atomics.wait:
 *   not on a browser page's main thread)
 */
export function threadsSupported(): boolean {
  return threadHost() !== undefined && atomicsWaitAllowed();
}

/**
 * Least arithmetic per thread and step (FLOPs: T·B·trainingFlopsPerToken, docs/architecture.md, Measuring speed) for a
 * thread to pay. Below it the wake-up, the wait, the copies and the gradient sum cost about what a
 * second thread saves: `npm run bench:threads` on the 2-core machine of docs/speed.md measured
 * 0.7–1.1× for steps of 5–10 MFLOP (about 0.3–0.7 ms), 1.3–1.7× from 12 MFLOP, 1.4–2× at 50+.
 */
export const MIN_FLOPS_PER_THREAD = 6e6;

/**
 * How many threads to use for a training step: the rule behind the automatic fallback to one.
 * min(requested, B, ⌊FLOPs per step / MIN_FLOPS_PER_THREAD⌋), at least 1: every thread gets at
 * least one stream and 6 MFLOP. So batch 1 (shape S, min-char-rnn) and small models (e.g.
 * H 64, T 25, B 8: 5 MFLOP) run on one thread; shapes M and L on all cores.
 * @param config model shape
 * @param T steps per chunk
 * @param B streams
 * @param requested threads asked for (e.g. --threads, default the number of cores)
 * @returns threads to use, 1 ≤ n ≤ requested
 */
export function chooseThreads(config: ModelConfig, T: number, B: number, requested: number): number {
  const flops = T * B * trainingFlopsPerToken(config);
  const n = Math.min(requested, B, Math.floor(flops / MIN_FLOPS_PER_THREAD));
  return Math.max(1, n);
}

/** Options of `createTrainingEngine`. */
export interface TrainingEngineOptions {
  /** Threads asked for; the engine uses `chooseThreads` of them. Default `defaultThreads()`. */
  readonly threads?: number;
  /** Arithmetic. Default the fastest available; threads need the WebAssembly kernels. */
  readonly kernels?: Kernels;
  /** How to start the workers. Default `threadHost()` (the registered host, else worker_threads in Node). */
  readonly host?: ThreadHost;
}

/**
 * The engine for training a model at one batch shape: a ThreadedLmEngine when more than one
 * thread pays (`chooseThreads`) and the runtime and kernels allow it, else an LmEngine.
 * Call `dispose()` when done: it also ends the worker threads.
 * @param config model shape
 * @param T steps per chunk
 * @param B streams
 * @param options threads and kernels
 * @returns the engine, once its threads are running
 * @throws ConfigError when `threads` is not an integer ≥ 1
 */
export async function createTrainingEngine(
  config: ModelConfig, T: number, B: number, options: TrainingEngineOptions = {},
): Promise<TrainingEngine> {
  const requested = checkThreads(options.threads ?? defaultThreads());
  const kernels = options.kernels;
  const host = options.host ?? threadHost();
  const n = chooseThreads(config, T, B, requested);
  if (n > 1 && host !== undefined && atomicsWaitAllowed()) {
    const wasm = kernels === undefined ? tryWasmKernels() : asWasmKernels(kernels);
    if (wasm !== undefined) return ThreadedLmEngine.create(config, { threads: n, kernels: wasm, host });
  }
  return new LmEngine(config, kernels);
}

/** Options of `ThreadedLmEngine.create` and `ThreadPool.create`. */
export interface ThreadedOptions {
  /** Threads in all, this one included (so threads − 1 workers). Default `defaultThreads()`. */
  readonly threads?: number;
  /** The WebAssembly kernels whose memory the threads share. Default this thread's instance. */
  readonly kernels?: WasmKernels;
  /** How to start the workers. Default `threadHost()` (the registered host, else worker_threads in Node). */
  readonly host?: ThreadHost;
  /**
   * The least time to wait for a worker's job, in milliseconds, before taking the worker for dead
   * (`workerTimeout`: the wait is the larger of this and WORKER_TIMEOUT_FACTOR × the slowest job so
   * far). Default WORKER_TIMEOUT_MS (30 s); the tests set a short one.
   */
  readonly workerTimeoutMs?: number;
}

/** Default least wait for a worker's job before it counts as dead (ThreadedOptions.workerTimeoutMs), ms. */
export const WORKER_TIMEOUT_MS = 30_000;
/** The wait for a job is at least this many times the slowest job of the pool so far. */
export const WORKER_TIMEOUT_FACTOR = 5;

/**
 * How long the engine's thread waits for a worker's job, counted from when the job was handed over,
 * before it takes the worker for dead or stuck: max(least, WORKER_TIMEOUT_FACTOR × slowest).
 * A worker that ends in a way it can tell (process.exit, an uncaught error) fails the job at once;
 * one that cannot (Node ends a thread that runs out of memory without running anything in it) or
 * that hangs fails it after this.
 * @param slowestMs the slowest job of the pool so far (its time from handing over to the answer seen), ms
 * @param leastMs the least wait (ThreadedOptions.workerTimeoutMs), ms
 * @returns the wait, ms
 */
export function workerTimeout(slowestMs: number, leastMs = WORKER_TIMEOUT_MS): number {
  return Math.max(leastMs, WORKER_TIMEOUT_FACTOR * slowestMs);
}

/** The engine's thread waits for a job in slices of this many ms (ThreadPool.wait; no cost while jobs take less). */
const WAIT_SLICE_MS = 1000;

/** Longest wait, ms, in `explainThreadError` for the runtime's report of a dead worker's end. */
const END_REPORT_MS = 2000;

/** A ThreadError's fuller version, once the runtime has reported the worker's end (`explainThreadError`). */
const explained = new WeakMap<ThreadError, Promise<ThreadError>>();

/**
 * The ThreadError of a worker that died during a job, with what its runtime reported about its
 * end added (Node's ERR_WORKER_OUT_OF_MEMORY, the exit code): Node reports that on the event loop of
 * the engine's thread, which does not run while that thread waits for the job, so the error thrown
 * from the step knows only what the worker itself said (or that it did not answer). `train` rethrows
 * its engine's ThreadError through this. Waits for the report at most ~2 s.
 * @param error what a step threw
 * @returns the fuller ThreadError for a ThreadPool's ThreadError, else `error` itself
 */
export async function explainThreadError(error: unknown): Promise<unknown> {
  const fuller = error instanceof ThreadError ? explained.get(error) : undefined;
  if (fuller === undefined) return error;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<unknown>((resolve) => (timer = setTimeout(() => resolve(error), END_REPORT_MS)));
  try {
    return await Promise.race([fuller, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Worker threads attached to one WebAssembly memory, for ThreadedLmEngines to run slices on.
 * Several engines may use one pool, one at a time (it is not reentrant). `terminate()` ends them.
 * A worker that ends or stops answering during a job (`workerTimeout`) fails it with a ThreadError,
 * and the pool terminates itself once its other workers' jobs are in.
 */
export class ThreadPool {
  /** Threads in all: the workers plus the thread that calls the engine. */
  readonly threads: number;
  /** The kernels (and memory) of the calling thread. */
  readonly kernels: WasmKernels;
  private readonly workers: readonly HostedWorker[];
  private readonly scratch: readonly number[];
  private readonly controlBlock: SharedArrayBuffer;
  private readonly control: Int32Array[];
  private readonly words: Float64Array[];
  private exited: Promise<void> | undefined;
  /** When each worker's job was handed over (performance.now()), and whether it is still out. */
  private readonly startedAt: Float64Array;
  private readonly busy: boolean[];
  /** The slowest job so far, ms; the least wait for one (ThreadedOptions.workerTimeoutMs). */
  private slowestMs = 0;
  private readonly leastWaitMs: number;
  /** The first ThreadError; the pool terminates once no job is out. */
  private failure: ThreadError | undefined;

  private constructor(kernels: WasmKernels, workers: HostedWorker[], scratch: number[], controlBlock: SharedArrayBuffer, leastWaitMs: number) {
    this.kernels = kernels;
    this.threads = workers.length + 1;
    this.workers = workers;
    this.scratch = scratch;
    this.controlBlock = controlBlock;
    this.control = workers.map((_, i) => new Int32Array(controlBlock, i * SLOT_BYTES, F64_AT / 4));
    this.words = workers.map((_, i) => new Float64Array(controlBlock, i * SLOT_BYTES + F64_AT, F64_WORDS));
    this.startedAt = new Float64Array(workers.length);
    this.busy = workers.map(() => false);
    this.leastWaitMs = leastWaitMs;
  }

  /**
   * Start threads − 1 workers and wait until each has attached to the memory.
   * @param options threads in all, the kernels, and how to start workers
   * @returns the pool
   * @throws ConfigError when threads is not an integer ≥ 1, workerTimeoutMs not a number > 0, no thread
   *   host is available here, or this thread may not wait for workers (a browser page's main thread);
   *   Error when a worker did not start
   */
  static async create(options: ThreadedOptions = {}): Promise<ThreadPool> {
    const threads = checkThreads(options.threads ?? defaultThreads());
    const leastWaitMs = options.workerTimeoutMs ?? WORKER_TIMEOUT_MS;
    if (!(leastWaitMs > 0)) throw new ConfigError(`workerTimeoutMs: expected a number of milliseconds > 0; received ${String(leastWaitMs)}`);
    const host = options.host ?? threadHost();
    if (host === undefined) {
      throw new ConfigError("threads: this runtime cannot start worker threads (Node's worker_threads, or a host registered with useThreadHost); use threads: 1");
    }
    if (!atomicsWaitAllowed()) {
      throw new ConfigError("threads: this thread may not block in Atomics.wait (a browser page's main thread); own the engine in a worker, or use threads: 1");
    }
    const kernels = options.kernels ?? wasmKernels();
    const controlBlock = new SharedArrayBuffer(SLOT_BYTES * Math.max(1, threads - 1));
    const scratch: number[] = [];
    const freeScratch = (): void => {
      for (const b of scratch) kernels.heap.free(new Float32Array(kernels.memory.buffer, b, 0));
    };
    let started: PromiseSettledResult<HostedWorker>[];
    try {
      for (let slot = 0; slot < threads - 1; slot++) scratch.push(kernels.heap.allocateBytes(kernels.scratchBytes));
      started = await Promise.allSettled(scratch.map((block, slot) =>
        host.start({ module: kernels.module, memory: kernels.memory, control: controlBlock, slot, scratch: block })));
    } catch (e) {
      freeScratch();
      throw e;
    }
    const workers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = started.findIndex((s) => s.status === "rejected");
    if (failed >= 0) {
      await Promise.all(workers.map((w) => w.terminate())); // no worker may still run on the scratch freed next
      freeScratch();
      const reason: unknown = (started[failed] as PromiseRejectedResult).reason;
      throw new Error(`worker thread ${failed + 1} did not start: ${reason instanceof Error ? reason.message : String(reason)}`);
    }
    return new ThreadPool(kernels, workers, scratch, controlBlock, leastWaitMs);
  }

  /** Whether `terminate` has been called. */
  get isTerminated(): boolean {
    return this.exited !== undefined;
  }

  /**
   * Hand a job to worker `i` (its descriptor written by `describe` first) and return at once.
   * @param i worker index, 0 ≤ i < threads − 1
   * @param command COMMAND.forward or COMMAND.forwardBackward
   */
  start(i: number, command: number): void {
    if (this.isTerminated) throw this.failure ?? new ConfigError("this ThreadPool has been terminated; create another");
    const c = this.control[i];
    this.words[i][F_COMMAND] = command;
    this.busy[i] = true;
    this.startedAt[i] = performance.now();
    Atomics.add(c, I_JOB, 1);
    Atomics.notify(c, I_JOB);
  }

  /**
   * Wait for worker `i`'s job to finish: at most `workerTimeout` from when it was handed over.
   * @param i worker index
   * @returns the slice's loss
   * @throws Error with the worker's error text when the job threw; ThreadError when the worker
   *   ended during the job or did not answer in time (the pool then terminates itself)
   */
  finish(i: number): number {
    const c = this.control[i];
    const job = Atomics.load(c, I_JOB);
    const done = Atomics.load(c, I_DONE);
    if (done !== job) this.wait(i, job, done);
    const ms = performance.now() - (this.startedAt[i] ?? 0);
    if (ms > this.slowestMs) this.slowestMs = ms;
    this.busy[i] = false;
    if (this.failure !== undefined) this.terminateWhenIdle();
    if (Atomics.load(c, I_FAILED) !== 0) throw new Error(`worker thread ${i + 1} failed: ${readErrorText(this.controlBlock, i) || "no message"}`);
    return this.words[i][F_LOSS];
  }

  /**
   * Wait until worker `i` has done `job`, or fail: it ended (its slot says so), or the wait ran out.
   * The wait counts from the job's handing over. Time this thread did not run is not held against
   * the worker, which did not run either: the process stopped (Ctrl-Z, then fg) or the machine
   * slept. Hence the wait in slices, each one checked for oversleeping, and a fresh wait when this
   * thread comes to it only after the wait is already over.
   */
  private wait(i: number, job: number, done: number): void {
    const c = this.control[i];
    const waitMs = workerTimeout(this.slowestMs, this.leastWaitMs);
    let now = performance.now();
    let deadline = (this.startedAt[i] ?? 0) + waitMs;
    if (deadline <= now) deadline = now + waitMs;
    for (; done !== job; done = Atomics.load(c, I_DONE)) {
      if (done === DONE_ENDED) throw this.fail(i, { ended: readErrorText(this.controlBlock, i) || "ended" });
      const slice = Math.min(deadline - now, WAIT_SLICE_MS);
      if (slice <= 0) throw this.fail(i, { waitMs });
      // woken by the job's answer, or by the worker's (or its host's) markEnded
      Atomics.wait(c, I_DONE, done, slice);
      const before = now;
      now = performance.now();
      const overslept = now - before - slice;
      if (overslept > WAIT_SLICE_MS) deadline += overslept; // well past the slice: this thread was not running
    }
  }

  /**
   * Worker `i` ended during its job or did not answer: the ThreadError for it. The worker is ended,
   * and the pool terminates once the other workers' jobs are in (they may still write to memory).
   */
  private fail(i: number, why: { readonly ended: string } | { readonly waitMs: number }): ThreadError {
    const thread = i + 1;
    const worker = this.workers[i];
    const said = "ended" in why
      ? `worker thread ${thread} ended before finishing its job: it ${why.ended}`
      : `worker thread ${thread} did not answer within ${seconds(why.waitMs)} (the wait for a job is the larger of ` +
        `${seconds(this.leastWaitMs)} and ${WORKER_TIMEOUT_FACTOR} × the slowest so far)`;
    const error = new ThreadError(threadMessage(said, undefined), thread);
    this.failure ??= error;
    this.busy[i] = false;
    const ended = worker?.terminate() ?? Promise.resolve();
    explained.set(error, ended.then(() => {
      const end = worker?.ended?.();
      return end === undefined || "ended" in why ? error : new ThreadError(threadMessage(said, end), thread);
    }));
    this.terminateWhenIdle();
    return error;
  }

  /** After a failure: terminate once no worker has a job out. */
  private terminateWhenIdle(): void {
    if (!this.busy.includes(true)) void this.terminate();
  }

  /**
   * The float64 words of worker `i`'s slot, to describe its next job in (thread-protocol.ts).
   * @param i worker index
   * @returns the words
   */
  describe(i: number): Float64Array {
    return this.words[i];
  }

  /**
   * End the workers and give their scratch memory back. Idempotent.
   * @returns a promise, the same on every call, resolved when every worker thread has exited
   *   (and its memory gone back to the system)
   */
  terminate(): Promise<void> {
    if (this.exited !== undefined) return this.exited;
    const exits = this.workers.map((w, i) => {
      this.words[i][F_COMMAND] = COMMAND.quit;
      Atomics.add(this.control[i], I_JOB, 1);
      Atomics.notify(this.control[i], I_JOB);
      return w.terminate();
    });
    for (const b of this.scratch) this.kernels.heap.free(new Float32Array(this.kernels.memory.buffer, b, 0));
    this.exited = Promise.all(exits).then(() => undefined, () => undefined); // a worker that cannot be stopped has nothing left to wait for
    return this.exited;
  }
}

/**
 * One contiguous slice of the batch's streams, with its own activations and h_0, and (on the
 * workers) its own gradients; slice 0, on the calling thread, accumulates into the caller's.
 */
interface Slice {
  /** First stream and number of streams. */
  readonly b0: number;
  readonly B: number;
  readonly buf: LmBuffers;
  /** The slice's gradients; empty for slice 0. */
  readonly grads: Float32Array;
  /** The slice's initial state (S, L, B_slice, H). */
  readonly state0: Float32Array;
}

/**
 * The kernel memory behind slice i, kept across shapes: sized by the largest shape so far, so a
 * smaller one (an evaluation's last chunk) carves its arrays from it (reuseOwned).
 */
interface SliceMemory {
  readonly buffers: ReusableBlock;
  readonly state0: ReusableBlock;
  grads?: Float32Array;
}

/**
 * The language model's forward and BPTT over B streams, split across threads (see the header).
 * Same interface and results (to rounding) as LmEngine. Slice 0 runs on the calling thread.
 */
export class ThreadedLmEngine implements TrainingEngine {
  readonly config: ModelConfig;
  /** The calling thread's kernels (WebAssembly). */
  readonly kernels: WasmKernels;
  /** The worker threads. */
  readonly pool: ThreadPool;
  private slices: Slice[] = [];
  /** The slices of the shape before (on the same memory, which one pass at a time uses). */
  private spareSlices: { readonly slices: Slice[]; readonly shape: { T: number; B: number }; readonly dropped: boolean[] } | undefined;
  private memory: SliceMemory[] = [];
  private shape = { T: 0, B: 0 };
  private paramsCopy: Float32Array | undefined;
  private gradsCopy: Float32Array | undefined;
  private dState0Full = new Float32Array(0);
  /** Which layers' outputs the slices' buffers have room to drop out. */
  private dropped: boolean[] = [];
  private readonly views: (flat: Float32Array) => ParamViews<Float32Array>;
  /** How the model's input and head lay out a batch's inputs and targets (how to cut them into slices). */
  private readonly layouts: { readonly inputs: DataLayout; readonly targets: DataLayout };
  // Every block this engine holds from kernels.allocate; freed by dispose() or after garbage collection.
  private readonly owned: OwnedMemory;

  /**
   * @param config model shape
   * @param pool worker threads (shared with other engines, one at a time; the caller terminates it)
   */
  constructor(config: ModelConfig, pool: ThreadPool) {
    this.config = config;
    this.pool = pool;
    this.kernels = pool.kernels;
    this.views = paramViewsMemo(config);
    this.layouts = batchLayouts(config);
    this.owned = ownKernelMemory(this, this.kernels);
  }

  /**
   * An engine with its own pool of threads − 1 workers, ended by `dispose()`.
   * @param config model shape
   * @param options threads in all and kernels
   * @returns the engine, once its workers are running
   */
  static async create(config: ModelConfig, options: ThreadedOptions = {}): Promise<ThreadedLmEngine> {
    const pool = await ThreadPool.create(options);
    const engine = new ThreadedLmEngine(config, pool);
    // the engine's pool ends with it: at dispose(), or after the engine is garbage-collected
    // (the closure holds the pool, not the engine, so that the engine can be collected)
    engine.owned.release = () => void pool.terminate();
    return engine;
  }

  /** Threads in all. */
  get threads(): number {
    return this.pool.threads;
  }

  /**
   * Forward only.
   * @param params flat parameters (paramSpecs layout)
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @returns E, summed over steps and sequences
   */
  loss(params: Float32Array, batch: ModelBatch, state0?: Float32Array): number {
    return this.run(params, undefined, batch, state0, 1, undefined);
  }

  /**
   * Forward and full BPTT. Overwrites `grads` with scale·∂E/∂θ.
   * @param params flat parameters
   * @param grads flat gradients, same length, overwritten
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @param scale gradient scale (1/(T·B) for the mean loss); default 1
   * @param dropout training's dropout for this pass; each slice draws its own part of the batch's masks
   * @returns E, summed over steps and sequences (unscaled)
   */
  lossAndGrads(params: Float32Array, grads: Float32Array, batch: ModelBatch, state0?: Float32Array, scale = 1, dropout?: Dropout): number {
    if (grads.length !== params.length) {
      throw new ShapeError(`grads has ${grads.length} values; expected ${params.length} like the parameters`);
    }
    return this.run(params, grads, batch, state0, scale, dropout);
  }

  /**
   * ∂E/∂(state_0) (S, L, B, H) of the last lossAndGrads call, gathered from the slices into an
   * array the engine reuses (valid until the next call).
   */
  get dState0(): Float32Array {
    const { T, B } = this.shape;
    if (T === 0) return new Float32Array(0);
    const { layers: L, hiddenSize: H } = this.config;
    if (this.dState0Full.length !== stateLength(this.config, B)) this.dState0Full = new Float32Array(stateLength(this.config, B));
    for (const s of this.slices) {
      s.buf.dState0Layers.forEach((states, l) => states.forEach((d, i) => this.dState0Full.set(d, ((i * L + l) * B + s.b0) * H)));
    }
    return this.dState0Full;
  }

  /**
   * The final state of the last forward pass, the initial state of the next chunk.
   * @param out (S, L, B, H) destination; default a new array
   * @returns out
   */
  finalState(out?: Float32Array): Float32Array {
    const { T, B } = this.shape;
    if (T === 0) throw new ShapeError("finalState() needs a forward pass first");
    const { layers: L, hiddenSize: H } = this.config;
    const dst = out ?? new Float32Array(stateLength(this.config, B));
    for (const s of this.slices) {
      for (let l = 0; l < L; l++) {
        const stateT = s.buf.layers[l]?.stateT ?? [];
        for (let i = 0; i < stateT.length; i++) dst.set(stateT[i] ?? EMPTY, ((i * L + l) * B + s.b0) * H);
      }
    }
    return dst;
  }

  /** @returns undefined: diagnostics need one engine's activations (LmEngine with `diagnostics: true`) */
  diagnostics(): readonly CellDiagnostics[] | undefined {
    return undefined;
  }

  /**
   * Give the engine's kernel memory back, and end the workers when the engine started them
   * (`create`). An engine on a shared pool stays usable: the next call allocates again.
   * @returns a promise resolved when the workers the engine started have exited (at once on a shared pool)
   */
  dispose(): Promise<void> {
    freeOwned(this.owned); // for an engine from `create`, this terminates its pool (owned.release)
    this.slices = [];
    this.spareSlices = undefined;
    this.memory = [];
    this.dropped = [];
    this.shape = { T: 0, B: 0 };
    this.paramsCopy = undefined;
    this.gradsCopy = undefined;
    return this.owned.release === undefined ? Promise.resolve() : this.pool.terminate(); // idempotent: the exit promise
  }

  private run(
    params: Float32Array, grads: Float32Array | undefined, batch: ModelBatch, state0: Float32Array | undefined, scale: number,
    dropout: Dropout | undefined,
  ): number {
    const { config, kernels: k, pool } = this;
    const P = paramCount(config);
    if (params.length !== P) throw new ShapeError(`params has ${params.length} values; expected ${P} for this model config`);
    validateModelBatch(batch, config);
    checkState(config, batch.B, state0);
    const { layers: L, hiddenSize: H } = config;
    const layouts = this.layouts;
    const stateRows = stateCount(config) * L; // (S·L) blocks of (B, H) in a state
    const slices = this.prepare(batch.T, batch.B, dropout);
    const p = k.isResident(params) ? params : this.copyParams(params);
    const { T, B } = batch;
    // hand each worker its slice: its inputs and targets (one-hot, softmax: token ids) and the initial state copied into its buffers, then the descriptor
    for (let i = 0; i < slices.length; i++) {
      const s = slices[i];
      // (element loops, not set(subarray): a view a row was most of a step's garbage)
      copyRows(s.buf.inputs, batch.inputs, layoutRows(layouts.inputs, T), B, s.b0, s.B, layouts.inputs.width);
      copyRows(s.buf.targets, batch.targets, layoutRows(layouts.targets, T), B, s.b0, s.B, layouts.targets.width);
      if (state0 !== undefined) copyRows(s.state0, state0, stateRows, B, s.b0, s.B, H);
      if (i === 0) continue;
      const w = pool.describe(i - 1);
      writeConfig(w, config);
      w[F_T] = T;
      w[F_B] = s.B;
      w[F_PARAMS] = p.byteOffset;
      w[F_GRADS] = s.grads.byteOffset;
      w[F_BUFFERS] = s.buf.memory.byteOffset;
      w[F_BUFFER_FLOATS] = s.buf.memory.length;
      w[F_STATE0] = state0 === undefined ? -1 : s.state0.byteOffset;
      w[F_SCALE] = scale;
      writeDropout(w, dropout);
      w[F_B0] = s.b0;
      w[F_B_TOTAL] = B;
      w[F_DROPPED] = droppedMask(this.dropped);
      pool.start(i - 1, grads === undefined ? COMMAND.forward : COMMAND.forwardBackward);
    }
    // slice 0 here, meanwhile, straight into the caller's gradients when the kernels can use them in place
    const s0 = slices[0];
    const pv = this.views(p);
    const g = grads === undefined || k.isResident(grads) ? grads : (this.gradsCopy ??= allocateOwned(this.owned, P));
    const place = { b0: 0, B };
    let loss = lmForward(s0.buf, config, pv, s0.buf.inputs, s0.buf.targets, state0 === undefined ? undefined : s0.state0, k, dropout, place);
    if (g !== undefined) {
      g.fill(0);
      lmBackward(s0.buf, config, pv, this.views(g), s0.buf.inputs, s0.buf.targets, scale, k, dropout, place);
    }
    // then the workers' slices, summed in slice order (the same order whatever finishes first)
    let failure: unknown;
    for (let i = 1; i < slices.length; i++) {
      try {
        loss += pool.finish(i - 1);
        // g += g_i (a row-vector add over all P values)
        if (g !== undefined) k.addRowVector(g, slices[i].grads, 1, P);
      } catch (e) {
        failure ??= e; // wait for the others before throwing: no worker may still be writing
      }
    }
    if (failure !== undefined) throw failure;
    if (grads !== undefined && g !== undefined && g !== grads) grads.set(g);
    return loss;
  }

  /** The slices for shape (T, B): n = min(threads, B) contiguous slices, the larger ones first; with room for dropout once asked for. */
  private prepare(T: number, B: number, dropout: Dropout | undefined): Slice[] {
    const have = this.dropped;
    const dropped = droppedLayers(this.config, dropout, have.map((d) => (d ? EMPTY : undefined)));
    const sameRoom = dropped.every((d, l) => d === (have[l] ?? false));
    if (this.shape.T === T && this.shape.B === B && sameRoom) return this.slices;
    // training and validation alternate between two shapes: the other one's slices are kept, not made again
    const spare = this.spareSlices;
    this.spareSlices = { slices: this.slices, shape: this.shape, dropped: this.dropped };
    if (spare !== undefined && spare.shape.T === T && spare.shape.B === B && dropped.every((d, l) => d === (spare.dropped[l] ?? false)) &&
      spare.slices.every((sl, i) => buffersServe(sl.buf, T, sl.B, dropped, this.memory[i]?.buffers ?? {}) && sl.state0.byteOffset === this.memory[i]?.state0.block?.byteOffset)) {
      ({ slices: this.slices, shape: this.shape, dropped: this.dropped } = spare);
      return this.slices;
    }
    this.slices = [];
    this.shape = { T: 0, B: 0 }; // if allocate throws, no stale slices stay behind
    this.dropped = dropped;
    const { config, owned } = this;
    const n = Math.min(this.pool.threads, B);
    const slices: Slice[] = [];
    let b0 = 0;
    for (let i = 0; i < n; i++) {
      const size = Math.floor(B / n) + (i < B % n ? 1 : 0);
      const m = (this.memory[i] ??= { buffers: {}, state0: {} });
      const buf = createLmBuffers(config, T, size, (floats) => reuseOwned(owned, m.buffers, floats), { dropped });
      const state0 = reuseOwned(owned, m.state0, stateLength(config, size));
      const grads = i === 0 ? new Float32Array(0) : (m.grads ??= allocateOwned(owned, paramCount(config)));
      slices.push({ b0, B: size, buf, grads, state0 });
      b0 += size;
    }
    this.slices = slices;
    this.shape = { T, B };
    return slices;
  }

  private copyParams(params: Float32Array): Float32Array {
    const copy = (this.paramsCopy ??= allocateOwned(this.owned, params.length));
    copy.set(params);
    return copy;
  }

}

/**
 * A ThreadError's message: what happened, what the runtime said of the worker's end (when known),
 * and what to do.
 * @param said what the engine's thread saw: the worker ended (its own words) or did not answer
 * @param end the runtime's report, when known
 */
function threadMessage(said: string, end: WorkerEnd | undefined): string {
  let how = "";
  if (end?.error !== undefined) how = `; it had ended with ${end.error}${end.code === undefined ? "" : ` (exit code ${end.code})`}`;
  else if (end?.terminated === true) how = "; it was still running (stuck), and has been stopped";
  else if (end?.code !== undefined) how = `; it had exited with code ${end.code}`;
  const memory = /OUT_OF_MEMORY|out of memory/i.test(`${said}${how}`) ? " with a smaller model or batch" : "";
  return `${said}${how}. Its job's results are lost and the pool's threads are stopped; ` +
    `run again (training: resume from the last checkpoint)${memory}, or on one thread (threads: 1) if it recurs`;
}

/** Milliseconds as "30 s" or "0.8 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toPrecision(3))} s`;
}

/** A stand-in array for `droppedLayers`'s "already has room" argument. */
const EMPTY = new Float32Array(0);

/**
 * @param layout a batch part's layout
 * @param T steps
 * @returns its rows of B streams: T for a part with values per step, 1 for one per sequence
 */
function layoutRows(layout: DataLayout, T: number): number {
  return layout.per === "step" ? T : 1;
}

/**
 * A slice's rows of a row-major (rows, B, width) array: dst (rows, n, width) gets streams b0 … b0 + n − 1.
 * @param dst the slice's array
 * @param src the whole batch's array
 * @param rows time steps, 1 for a part with one row per sequence (or state blocks)
 * @param B streams in `src`
 * @param b0 first stream of the slice
 * @param n streams in the slice
 * @param width values per stream and row (1 for token ids, D for D features, H for a state)
 */
function copyRows<A extends Int32Array | Float32Array>(dst: A, src: A, rows: number, B: number, b0: number, n: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const from = (r * B + b0) * width, to = r * n * width;
    for (let j = 0; j < n * width; j++) dst[to + j] = src[from + j] ?? 0;
  }
}

function checkThreads(threads: number): number {
  if (!(Number.isSafeInteger(threads) && threads >= 1)) {
    throw new ConfigError(`threads: expected an integer ≥ 1; received ${String(threads)}`);
  }
  return threads;
}

function tryWasmKernels(): WasmKernels | undefined {
  try {
    return wasmKernels();
  } catch {
    return undefined;
  }
}

function asWasmKernels(k: Kernels): WasmKernels | undefined {
  return "module" in k && "heap" in k && "memory" in k ? (k as WasmKernels) : undefined;
}
