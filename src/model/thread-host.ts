/**
 * How a ThreadPool (threaded.ts) starts its workers: the one part of data-parallel training that
 * differs between Node and browsers. A ThreadHost starts one worker running thread-worker.ts, hands
 * it its start message (thread-protocol.ts: the kernels' module and shared memory, the control
 * block, its slot and scratch) and resolves once the worker says it is attached; after that
 * everything goes through shared memory and Atomics, the same everywhere.
 *
 * - `nodeThreadHost()`: worker_threads, the default in Node (the start message as `workerData`).
 * - `browserThreadHost(create)`: a browser's Worker, made by `create` — the app's bundler must see
 *   the worker's entry to build it (the package's "bptt/thread-worker.js", e.g. Vite's
 *   `import ThreadWorker from "bptt/thread-worker.js?worker"`; the playground's
 *   `new Worker(new URL("…/thread-worker.ts", import.meta.url), { type: "module" })`), so the app
 *   writes that line, not the library. The start message goes by postMessage.
 *   The engine's owner blocks in Atomics.wait during a step, which a page's main thread may not:
 *   run the engine in a (dedicated) worker, which then starts nested workers (Chromium, Firefox).
 *   `useThreadHost` makes it the host of every engine created in that worker, the trainer's included.
 */
import { markEnded, type WorkerStart } from "./thread-protocol.ts";

/** Starts the workers of a ThreadPool. */
export interface ThreadHost {
  /**
   * Start one worker (thread-worker.ts) and give it its start message.
   * @param start the start message
   * @returns the worker, once it has attached to the memory
   * @throws (rejects) Error saying why the worker could not start
   */
  start(start: WorkerStart): Promise<HostedWorker>;
}

/** A started worker. */
export interface HostedWorker {
  /**
   * End the worker (the pool has told it to quit first; this also ends one that did not listen).
   * @returns a promise resolved once it has ended
   */
  terminate(): Promise<void>;
  /**
   * How the worker ended, as its runtime reported it, for the ThreadError of a worker that died
   * (optional: a host without it gives the pool only what the worker said in its slot). The
   * runtime reports on the event loop of the engine's thread, so this is known only after that
   * thread has run its loop (ThreadPool: `explainThreadError`), not while it waits in a step.
   * @returns what is known, or undefined while the worker runs (as far as that loop knows)
   */
  ended?(): WorkerEnd | undefined;
}

/** How a worker ended (HostedWorker.ended). */
export interface WorkerEnd {
  /** Its exit code, where the runtime gives one (Node). */
  readonly code?: number;
  /** The error it ended with, as "CODE: message" where it has a code (Node's ERR_WORKER_OUT_OF_MEMORY). */
  readonly error?: string;
  /** Whether `terminate()` had been called when it ended: with no error, it ended because it was told to. */
  readonly terminated: boolean;
}

let registered: ThreadHost | undefined;

/**
 * Set the host that engines in this runtime start their workers with where none is given
 * (ThreadedOptions.host), the trainer's included: for a browser worker that owns engines. Without
 * one, Node uses worker_threads and other runtimes train on one thread.
 * @param host the host, or undefined for the runtime's default again
 */
export function useThreadHost(host: ThreadHost | undefined): void {
  registered = host;
}

/** @returns the host set with `useThreadHost`, else worker_threads in Node, else undefined (one thread) */
export function threadHost(): ThreadHost | undefined {
  return registered ?? nodeThreadHost();
}

/** @returns whether a host was set with `useThreadHost` */
export function threadHostRegistered(): boolean {
  return registered !== undefined;
}

/**
 * Whether this thread may block in Atomics.wait, as the engine's owner does during each step:
 * Node's threads and browsers' workers may; a browser page's main thread may not.
 * @returns true where it may
 */
export function atomicsWaitAllowed(): boolean {
  try {
    // returns "not-equal" at once where waiting is allowed; throws a TypeError where it is not
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- Node

type NodeWorker = import("node:worker_threads").Worker;

/** Options of `nodeThreadHost`. */
export interface NodeThreadHostOptions {
  /**
   * The workers' V8 heap limits (worker_threads' resourceLimits), over the default's
   * `maxYoungGenerationSizeMb: 8`; e.g. a small `maxOldGenerationSizeMb` makes a worker that
   * allocates run out of memory (Node ends it: ERR_WORKER_OUT_OF_MEMORY), as the tests do.
   */
  readonly resourceLimits?: import("node:worker_threads").ResourceLimits;
}

/**
 * Node's worker_threads as a ThreadHost: the worker is thread-worker.js beside this file (or
 * thread-worker.ts, with a type-stripping loader, when running from source), its start message
 * its `workerData`. Started workers do not keep the process alive (unref). A worker's "error" and
 * "exit" events (heard whenever the engine's thread runs its event loop) are kept for `ended()`
 * and mark its slot ended (thread-protocol.ts `markEnded`): a worker that died between steps fails
 * the next one at once.
 * @param options the workers' heap limits
 * @returns the host, or undefined outside Node
 */
export function nodeThreadHost(options: NodeThreadHostOptions = {}): ThreadHost | undefined {
  const wt = globalThis.process?.getBuiltinModule?.("node:worker_threads");
  if (wt === undefined) return undefined;
  return {
    async start(start) {
      // the worker's young generation capped (V8 grows it up to 3 × 16 MiB under garbage it survives):
      // a step makes next to none there (no kernel call allocates), so this only bounds what a change could cost
      const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, ...options.resourceLimits };
      const w = new wt.Worker(workerUrl(), { workerData: start, execArgv: sourceLoaderArgs(), resourceLimits });
      await nodeReady(w);
      // an idle worker must not keep the process alive: an engine that is never disposed still lets Node exit
      w.unref();
      let error: string | undefined, code: number | undefined, terminating = false, terminated = false;
      // with a listener, a worker's uncaught error is this worker's end, not an uncaught error of the engine's thread
      w.on("error", (e: unknown) => {
        error ??= errorText(e);
      });
      w.once("exit", (c) => {
        code = c;
        terminated = terminating;
        markEnded(start.control, start.slot, error === undefined ? `exited with code ${c}` : `ended with ${error} (exit code ${c})`);
      });
      return {
        terminate: () => {
          terminating = true;
          return w.terminate().then(() => undefined, () => undefined); // one that cannot be stopped has nothing left to wait for
        },
        ended: () => (code === undefined ? undefined : { code, terminated, ...(error === undefined ? {} : { error }) }),
      };
    },
  };
}

/** Young generation of a Node worker thread, MiB (V8's default grows to 48). */
const WORKER_YOUNG_MB = 8;

/** Resolve when the worker says it is attached; reject if it fails first. */
function nodeReady(w: NodeWorker): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: unknown): void => {
      w.off("error", fail);
      w.off("exit", exited);
      reject(new Error(e instanceof Error ? e.message : String(e)));
      void w.terminate();
    };
    const exited = (code: number): void => fail(`it exited with code ${code}`);
    w.once("message", () => {
      w.off("error", fail);
      w.off("exit", exited);
      resolve();
    });
    w.once("error", fail);
    w.once("exit", exited);
  });
}

/** An error event's error as "CODE: message" (Node's errors have codes, e.g. ERR_WORKER_OUT_OF_MEMORY), else its message. */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${e.message}` : `${e.name}: ${e.message}`;
}

/** The worker's entry: thread-worker.js next to this file in dist/, thread-worker.ts when running from source. */
function workerUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(/* @vite-ignore */ `./thread-worker${ext}`, import.meta.url);
}

/**
 * Node flags for a worker started from TypeScript source (the tests, `npm run bench`): Node 20
 * cannot run .ts, so the worker first registers a module hook that strips the types with the
 * TypeScript compiler (a devDependency, and only here). The built library (dist/) needs none.
 */
function sourceLoaderArgs(): string[] {
  if (!import.meta.url.endsWith(".ts")) return [];
  const nodeModule = globalThis.process?.getBuiltinModule?.("node:module");
  const url = globalThis.process?.getBuiltinModule?.("node:url");
  if (nodeModule === undefined || url === undefined) return [];
  const typescript = url.pathToFileURL(nodeModule.createRequire(import.meta.url).resolve("typescript")).href;
  const register =
    `import { register } from "node:module";\n` +
    `register(${JSON.stringify(dataUrl(TS_HOOKS))}, { data: { typescript: ${JSON.stringify(typescript)} } });`;
  return ["--import", dataUrl(register)];
}

function dataUrl(source: string): string {
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** Module hooks (node:module register) that load .ts files with their types stripped. */
const TS_HOOKS = `
import { readFile } from "node:fs/promises";
let ts;
export async function initialize(data) { ts = (await import(data.typescript)).default; }
export async function load(url, context, next) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return next(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { outputText } = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
  });
  return { format: "module", source: outputText, shortCircuit: true };
}`;

// ---------------------------------------------------------------- browsers

/** The parts of a browser's Worker that `browserThreadHost` uses (a DOM `Worker` is one). */
export interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "message", listener: (event: { readonly data: unknown }) => void): void;
  /** A script error in the worker is an ErrorEvent (with a message); a script that fails to load, a plain Event. */
  addEventListener(type: "error", listener: (event: { readonly message?: string; preventDefault(): void }) => void): void;
}

/** Options of `browserThreadHost`. */
export interface BrowserThreadHostOptions {
  /** Longest wait for a worker to load and attach, in milliseconds. Default 20 000. */
  readonly timeoutMs?: number;
}

/**
 * A browser's Worker as a ThreadHost. The worker must run thread-worker.ts: its first message is
 * the start message, and it answers "ready" once attached. An error before that (the script did
 * not load, a bad start message), or no answer within `timeoutMs`, rejects the start and ends the
 * worker; the error event is handled here, so it is not reported again in the owner's scope. An
 * error after it (the worker's thread stopped on an uncaught error) is kept for `ended()` and
 * marks the worker's slot ended, for the pool's ThreadError (thread-protocol.ts `markEnded`).
 * @param create makes one Worker running thread-worker.ts (the package's "bptt/thread-worker.js"), e.g.
 *   `() => new ThreadWorker()` after Vite's `import ThreadWorker from "bptt/thread-worker.js?worker"`
 * @param options the start timeout
 * @returns the host
 */
export function browserThreadHost(create: () => BrowserWorker, options: BrowserThreadHostOptions = {}): ThreadHost {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return {
    start(start) {
      return new Promise((resolve, reject) => {
        const w = create();
        let settled = false;
        let running = false, failed: string | undefined, terminated = false;
        const settle = (error: Error | undefined): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (error === undefined) {
            running = true;
            resolve({
              terminate: () => {
                terminated = true;
                return Promise.resolve(w.terminate());
              },
              // a browser tells of no exit: only of an error, or that it was terminated
              ended: () => (failed !== undefined ? { error: failed, terminated: false } : terminated ? { terminated } : undefined),
            });
          } else {
            w.terminate();
            reject(error);
          }
        };
        const timer = setTimeout(() => settle(new Error(`it did not answer within ${timeoutMs} ms`)), timeoutMs);
        w.addEventListener("message", (e) => {
          settle(e.data === "ready" ? undefined : new Error(`it answered ${JSON.stringify(e.data)?.slice(0, 100)} instead of "ready"`));
        });
        w.addEventListener("error", (e) => {
          e.preventDefault();
          const message = e.message === undefined || e.message === "" ? "its script failed to load" : e.message;
          if (running && !terminated) {
            failed ??= message;
            markEnded(start.control, start.slot, `stopped on an error: ${message}`);
          }
          settle(new Error(message));
        });
        w.postMessage(start);
      });
    },
  };
}
