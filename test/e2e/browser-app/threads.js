// A page's Web Worker that trains on 2 threads, as a browser user would set it up: the package's
// browser loader fetches the kernels (the FMA build where relaxed SIMD validates) and registers
// nested workers running "bptt/thread-worker.js" (bundled by Vite's `?worker`) as the thread host.
// main.js starts it and puts its answer in window.result.threaded.
import { loadBrowserKernels, train, wasmRelaxedSimdSupported } from "bptt";
import wasmFmaUrl from "bptt/kernels-fma.wasm?url";
import wasmUrl from "bptt/kernels.wasm?url";
import ThreadWorker from "bptt/thread-worker.js?worker";

async function run() {
  const loaded = await loadBrowserKernels({ wasmUrl, wasmFmaUrl, threadWorker: () => new ThreadWorker() });
  const { kernels } = loaded;
  const text = "the cat sat on the mat.\nthe dog sat on the log.\n".repeat(200);
  const losses = [];
  const result = await train(
    { text, hiddenSize: 128, seqLength: 25, batchSize: 16, steps: 30, evalEvery: 0, lr: 1e-2, threads: 2, kernels },
    { onStep: (e) => losses.push(e.loss) },
  );
  return {
    threads: result.threads, fallbackCalls: kernels.fallbackCalls, first: losses[0], last: losses[losses.length - 1],
    build: kernels.build, relaxedSimd: wasmRelaxedSimdSupported(), oneThreadReason: loaded.oneThreadReason, portableReason: loaded.portableReason,
  };
}

run().then(
  (r) => postMessage(r),
  (e) => postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
);
