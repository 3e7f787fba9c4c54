/**
 * The worker thread of a ThreadedLmEngine (src/model/threaded.ts; the protocol is in
 * thread-protocol.ts). It attaches the WebAssembly kernels to the engine's shared memory and then
 * loops: wait for a job, run forward (and BPTT) on its slice of the batch with lmForward and
 * lmBackward — the same code the engine's own thread runs —, report, wait again.
 *
 * One entry for both runtimes (thread-host.ts starts it): in Node a worker_threads Worker, whose
 * start message is its `workerData`; in a browser a dedicated module Worker (nested in the worker
 * that owns the engine), whose start message is the first message it receives. Both then run the
 * same `serve`. The worker blocks in Atomics.wait between jobs, which workers may do in both.
 *
 * The one module in src/ that runs code when loaded: it is a thread's entry point, started by
 * `new Worker(url)`, never imported. It imports nothing from Node (worker_threads comes from
 * process.getBuiltinModule), so that a bundler can build it for browsers.
 */
import { attachWasmKernels, type AttachedWasmKernels } from "../kernels/wasm.ts";
import type { Dropout } from "../nn/dropout.ts";
import { createLmBuffers, lmBackward, lmForward, type LmBuffers, type SlicePlace } from "./lm.ts";
import { paramCount, paramViews, stateLength, type ParamViews } from "./params.ts";
import {
  COMMAND, F64_AT, F64_WORDS, F_B, F_CELL, F_BUFFER_FLOATS, F_BUFFERS, F_COMMAND, F_GRADS, F_HEAD, F_INPUT, F_LOSS, F_PARAMS, F_SCALE,
  F_STATE0, F_T, F_B0, F_B_TOTAL, F_DROPPED, droppedFromMask, I_DONE, I_FAILED, I_JOB, markEnded, parseWorkerStart, readConfig, readDropout, SLOT_BYTES,
  writeErrorText, type WorkerStart,
} from "./thread-protocol.ts";
import type { ModelConfig } from "./config.ts";

/** Views of one job's arrays, made once per shape and memory the engine hands over (jobViews). */
interface JobViews {
  /** The words of the job that described them (DESCRIBING). */
  readonly description: Float64Array;
  readonly config: ModelConfig;
  readonly buf: LmBuffers;
  readonly p: ParamViews<Float32Array>;
  readonly grads: Float32Array;
  readonly g: ParamViews<Float32Array>;
  readonly state0: Float32Array | undefined;
  readonly place: SlicePlace;
}

/**
 * The words of a job that say which arrays it runs on: everything but the command, the scale, the
 * result and the dropout (the dropout's room: F_DROPPED).
 */
const DESCRIBING: readonly number[] = [
  ...Array.from({ length: F_SCALE - F_COMMAND - 1 }, (_, i) => F_COMMAND + 1 + i), F_CELL, F_DROPPED, F_B0, F_B_TOTAL, F_INPUT, F_HEAD,
];
/**
 * Views kept, the most recently made last: training and validation alternate between two shapes
 * (a validation's last chunk may be a third), and views made anew at each switch would pile up in
 * this thread's old generation: the thread blocks in Atomics.wait and never returns to its event
 * loop, where V8's idle-time collection would run, so it collects them only at its (large) limit —
 * a 10-minute run saw no full collection in the worker at all.
 */
const KEPT_VIEWS = 4;

/** The parts of a browser's DedicatedWorkerGlobalScope used here. */
interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void, options: { readonly once: true }): void;
}

const node = globalThis.process?.getBuiltinModule?.("node:worker_threads");
const port = node?.parentPort;
if (node !== undefined && port !== null && port !== undefined) {
  serve(parseWorkerStart(node.workerData), () => port.postMessage("ready"));
} else {
  const scope = browserWorkerScope();
  // an error here (a bad start message) reaches the engine's owner as the Worker's "error" event
  scope.addEventListener("message", (e) => serve(parseWorkerStart(e.data), () => scope.postMessage("ready")), { once: true });
}

/**
 * Attach to the engine's memory, say so, and run jobs until told to quit.
 * @param start the start message
 * @param ready tells the engine's owner that this worker is attached (it waits for that before the first job)
 */
function serve(start: WorkerStart, ready: () => void): void {
  const kernels = attachWasmKernels(start);
  const control = new Int32Array(start.control, start.slot * SLOT_BYTES, F64_AT / 4);
  const f64 = new Float64Array(start.control, start.slot * SLOT_BYTES + F64_AT, F64_WORDS);
  const views: JobViews[] = [];
  const fault = testFault(start.slot);
  let quit = false;
  // Node: a thread that ends otherwise than by quit (process.exit in it, an uncaught error) says so
  // in its slot, which wakes the engine at once (its own thread sees the Worker's "exit" event only
  // after its wait). Not run when Node ends the thread for running out of memory: the engine's
  // bounded wait catches that (threaded.ts).
  globalThis.process?.on?.("exit", (code) => {
    if (!quit) markEnded(start.control, start.slot, `exited with code ${code}`);
  });
  ready();
  let job = 0;
  try {
    for (;;) {
      Atomics.wait(control, I_JOB, job);
      job = Atomics.load(control, I_JOB);
      const command = f64[F_COMMAND];
      if (command === COMMAND.quit) break;
      if (job === fault?.job) injectFault(fault.kind, job);
      try {
        f64[F_LOSS] = runJob(kernels, f64, jobViews(kernels, f64, views), command === COMMAND.forwardBackward);
        Atomics.store(control, I_FAILED, 0);
      } catch (e) {
        writeErrorText(start.control, start.slot, e instanceof Error ? (e.stack ?? e.message) : String(e));
        Atomics.store(control, I_FAILED, 1);
      }
      Atomics.store(control, I_DONE, job);
      Atomics.notify(control, I_DONE);
    }
    quit = true;
  } catch (e) {
    // outside a job's own try (which reports a job's error and goes on): this thread is done for
    markEnded(start.control, start.slot, `stopped on an uncaught ${firstLine(e)}`);
    throw e;
  }
}

/** Forward (and BPTT) over this worker's slice. */
function runJob(kernels: AttachedWasmKernels, f64: Float64Array, v: JobViews, backward: boolean): number {
  const { buf, config, p, place } = v;
  const dropout: Dropout | undefined = readDropout(f64);
  const loss = lmForward(buf, config, p, buf.inputs, buf.targets, v.state0, kernels, dropout, place);
  if (backward) {
    v.grads.fill(0);
    lmBackward(buf, config, p, v.g, buf.inputs, buf.targets, f64[F_SCALE], kernels, dropout, place);
  }
  return loss;
}

/**
 * The views a job needs: kept ones when the job describes the same arrays, else new ones (kept).
 * Compares the words one by one, allocating nothing when the views are kept.
 */
function jobViews(k: AttachedWasmKernels, w: Float64Array, kept: JobViews[]): JobViews {
  for (const v of kept) if (describes(v.description, w)) return v;
  const views = makeJobViews(k, w);
  kept.push(views);
  if (kept.length > KEPT_VIEWS) kept.shift();
  return views;
}

/** Whether the job in `w` has the description `d` (plain loop: no closures made per job). */
function describes(d: Float64Array, w: Float64Array): boolean {
  for (let i = 0; i < DESCRIBING.length; i++) if (d[i] !== w[DESCRIBING[i] ?? 0]) return false;
  return true;
}

/** New views of the arrays the job in `w` describes. */
function makeJobViews(k: AttachedWasmKernels, w: Float64Array): JobViews {
  const description = Float64Array.from(DESCRIBING, (f) => w[f] ?? NaN);
  const config = readConfig(w);
  const T = w[F_T], B = w[F_B];
  const P = paramCount(config);
  const block = k.floats(w[F_BUFFERS], w[F_BUFFER_FLOATS]);
  // the same layout the engine made, room for dropout included
  const dropped = droppedFromMask(w[F_DROPPED], config.layers);
  const buf = createLmBuffers(config, T, B, (n) => {
    if (n !== block.length) throw new Error(`thread worker: buffers need ${n} floats; the engine gave ${block.length}`);
    return block;
  }, { dropped });
  const grads = k.floats(w[F_GRADS], P);
  const state0 = w[F_STATE0] < 0 ? undefined : k.floats(w[F_STATE0], stateLength(config, B));
  const place = { b0: w[F_B0], B: w[F_B_TOTAL] };
  return { description, config, buf, p: paramViews(config, k.floats(w[F_PARAMS], P)), grads, g: paramViews(config, grads), state0, place };
}

/** How the test hook ends a worker: see `testFault`. */
type FaultKind = "exit" | "throw" | "oom" | "hang";

/**
 * TEST ONLY: the fault that the environment variable BPTT_TEST_WORKER_FAULT asks this worker to
 * fake, read once when it starts (Node only: a browser has no environment). Its form is
 * `KIND:JOB` or `KIND:JOB:THREAD`: worker thread THREAD (1, the first worker, when not given) takes
 * its JOB-th job (counted from 1 in this worker; one per training step) and, instead of running it,
 * - exit:  calls process.exit(7);
 * - throw: throws an Error outside the job's own try (an uncaught error: the thread ends);
 * - oom:   allocates until it runs out of memory (Node ends it: ERR_WORKER_OUT_OF_MEMORY; fast only
 *          with a small heap, e.g. nodeThreadHost({ resourceLimits: { maxOldGenerationSizeMb: 16 } }));
 * - hang:  spins forever (stuck; only terminate() ends it).
 * test/thread-death.test.ts and test/threaded.test.ts use it to kill a worker mid-job for real.
 * @param slot this worker's slot (worker thread slot + 1)
 * @returns the fault, or undefined (always, unless the variable names this worker)
 */
function testFault(slot: number): { readonly kind: FaultKind; readonly job: number } | undefined {
  const spec = globalThis.process?.env?.["BPTT_TEST_WORKER_FAULT"];
  if (spec === undefined || spec === "") return undefined;
  const m = /^(exit|throw|oom|hang):([1-9]\d*)(?::([1-9]\d*))?$/.exec(spec);
  if (m === null) throw new Error(`thread worker: BPTT_TEST_WORKER_FAULT must be KIND:JOB[:THREAD] (KIND exit, throw, oom or hang); received ${JSON.stringify(spec)}`);
  if (Number(m[3] ?? 1) !== slot + 1) return undefined;
  return { kind: m[1] as FaultKind, job: Number(m[2]) };
}

/** TEST ONLY: fake the fault (see `testFault`); returns only for a kind that cannot be done here. */
function injectFault(kind: FaultKind, job: number): void {
  if (kind === "exit") globalThis.process?.exit(7);
  if (kind === "throw") throw new Error(`test fault: worker thread ended at job ${job} (BPTT_TEST_WORKER_FAULT)`);
  if (kind === "oom") {
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array<number>(1 << 16).fill(job + 0.5)); // 512 KiB of doubles each, all kept
  }
  if (kind === "hang") for (;;); // stuck: nothing in this thread runs again
}

/** The first line of an error's text (its name and message; a stack's frames left out). */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return text.split("\n", 1)[0] ?? text;
}

/** This module's global scope as a browser worker's, or an error that says how it was (mis)started. */
function browserWorkerScope(): WorkerScope {
  const g: object = globalThis;
  if (!("postMessage" in g && "addEventListener" in g && typeof g.postMessage === "function")) {
    throw new Error("thread worker: not started as a worker (Node worker_threads or a browser Worker); the engine starts it (thread-host.ts)");
  }
  return g as WorkerScope;
}
