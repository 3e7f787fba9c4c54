// A page's Web Worker that trains on 2 threads, as a browser user would set it up: nested workers
// running "bptt/thread-worker.js" (bundled by Vite's `?worker`), registered with useThreadHost.
// main.js starts it and puts its answer in window.result.threaded.
import { browserThreadHost, createWasmKernels, train, useThreadHost } from "bptt";
import wasmUrl from "bptt/kernels.wasm?url";
import ThreadWorker from "bptt/thread-worker.js?worker";

async function run() {
  useThreadHost(browserThreadHost(() => new ThreadWorker()));
  const kernels = createWasmKernels({ module: await WebAssembly.compileStreaming(fetch(wasmUrl)) });
  const text = "the cat sat on the mat.\nthe dog sat on the log.\n".repeat(200);
  const losses = [];
  const result = await train(
    { text, hiddenSize: 128, seqLength: 25, batchSize: 16, steps: 30, evalEvery: 0, lr: 1e-2, threads: 2, kernels },
    { onStep: (e) => losses.push(e.loss) },
  );
  return { threads: result.threads, fallbackCalls: kernels.fallbackCalls, first: losses[0], last: losses[losses.length - 1] };
}

run().then(
  (r) => postMessage(r),
  (e) => postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
);
