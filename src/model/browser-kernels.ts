/**
 * The browser's counterpart of kernel selection (src/kernels/index.ts) and of Node's worker_threads
 * host, in one async call for a Web Worker that trains: `loadBrowserKernels` fetches and compiles
 * the WebAssembly kernels and, given a way to start thread workers, registers them as the engines'
 * thread host (thread-host.ts `useThreadHost`), so that `train` runs data-parallel as in Node.
 *
 * The choice is kernels/index.ts's: the WebAssembly kernels where they can run
 * (`wasmUnsupportedReason`), their fused multiply-add build where relaxed SIMD validates
 * (`defaultWasmBuild`, kernels/wasm.ts), else the portable kernels, with the reason. It differs in
 * how the module arrives: Node reads it synchronously beside the library; a browser fetches it from
 * the URL the app's bundler gives the package's "bptt/kernels.wasm" and "bptt/kernels-fma.wasm"
 * and compiles it asynchronously (browsers refuse to compile a large module synchronously).
 * The thread worker's entry ("bptt/thread-worker.js") must likewise be seen by the app's bundler,
 * so the app passes the function that starts one.
 */
import { wasmUnsupportedReason } from "../kernels/index.ts";
import { portableKernels } from "../kernels/portable.ts";
import type { Kernels } from "../kernels/types.ts";
import { createWasmKernels, defaultWasmBuild, type WasmKernels } from "../kernels/wasm.ts";
import { browserThreadHost, useThreadHost, type BrowserWorker } from "./thread-host.ts";
import { ThreadPool } from "./threaded.ts";

/** Where `loadBrowserKernels` finds the kernels' two builds and how it starts a thread. */
export interface BrowserKernelsOptions {
  /** URL of "bptt/kernels.wasm" (WebAssembly SIMD), e.g. Vite's `import wasmUrl from "bptt/kernels.wasm?url"`. */
  readonly wasmUrl: string | URL;
  /** URL of "bptt/kernels-fma.wasm" (relaxed SIMD: the GEMM as fused multiply-adds), fetched instead where the browser validates relaxed SIMD. */
  readonly wasmFmaUrl: string | URL;
  /**
   * Starts one Worker running "bptt/thread-worker.js", e.g. `() => new ThreadWorker()` after Vite's
   * `import ThreadWorker from "bptt/thread-worker.js?worker"`. Without it, training runs on one thread.
   */
  readonly threadWorker?: () => BrowserWorker;
}

/** What `loadBrowserKernels` set up. */
export interface BrowserKernels {
  /** The WebAssembly kernels, or the portable ones where those cannot run. */
  readonly kernels: Kernels;
  /** Why the portable kernels run (e.g. the page is not cross-origin isolated); undefined when the WebAssembly ones do. */
  readonly portableReason: string | undefined;
  /** Threads training may use: the browser's cores where thread workers start (then registered as the thread host), else 1. */
  readonly threads: number;
  /** Why 1 thread (no cross-origin isolation, the portable kernels, 1 core, a worker that did not start); undefined otherwise. */
  readonly oneThreadReason: string | undefined;
}

/**
 * Load the kernels for this browser thread and, where it can train on several, register the
 * thread workers as the host of every engine created here (the trainer's included). Run it in a
 * dedicated Web Worker: the engine's owner blocks in Atomics.wait during a step, which a page's
 * main thread may not. One thread worker is started and ended to try, so that a browser that
 * cannot start one trains on one thread, with the reason, instead of failing a run.
 * @param options the kernels' URLs and the thread workers' constructor
 * @returns the kernels, the threads available, and why the fallbacks where they apply
 */
export async function loadBrowserKernels(options: BrowserKernelsOptions): Promise<BrowserKernels> {
  let wasm: WasmKernels | undefined;
  let portableReason = wasmUnsupportedReason();
  if (portableReason === undefined) {
    try {
      const url = defaultWasmBuild() === "fma" ? options.wasmFmaUrl : options.wasmUrl;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${String(url)}: HTTP ${response.status}`);
      wasm = createWasmKernels({ module: await WebAssembly.compile(await response.arrayBuffer()) });
    } catch (e) {
      portableReason = `the WebAssembly kernels failed to load (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  const { threads, oneThreadReason } = await startThreads(wasm, options.threadWorker);
  return { kernels: wasm ?? portableKernels, portableReason, threads, oneThreadReason };
}

/**
 * Register the thread workers as the engines' thread host, where they can run and one starts.
 * @returns the browser's cores once the host is registered, else 1 thread and why
 */
async function startThreads(
  wasm: WasmKernels | undefined, threadWorker: (() => BrowserWorker) | undefined,
): Promise<{ threads: number; oneThreadReason: string | undefined }> {
  const one = (reason: string): { threads: number; oneThreadReason: string } => ({ threads: 1, oneThreadReason: reason });
  if (globalThis.crossOriginIsolated !== true) return one("the page is not cross-origin isolated (no shared memory between threads)");
  if (wasm === undefined) return one("threads need the WebAssembly kernels");
  const cores = globalThis.navigator?.hardwareConcurrency;
  if (!(cores >= 2)) return one(`the browser reports ${cores} core${cores === 1 ? "" : "s"}`);
  if (threadWorker === undefined) return one("no thread worker was given (loadBrowserKernels' threadWorker)");
  if (typeof Worker !== "function") return one("this browser cannot start a worker from a worker");
  const host = browserThreadHost(threadWorker);
  try {
    await (await ThreadPool.create({ threads: 2, kernels: wasm, host })).terminate();
  } catch (e) {
    return one(`a nested worker did not start (${e instanceof Error ? e.message : String(e)})`);
  }
  useThreadHost(host);
  return { threads: cores, oneThreadReason: undefined };
}
