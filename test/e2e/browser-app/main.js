// A page that uses bptt the way a browser user does: `import … from "bptt"` (the package's
// "browser" entry, bundled by Vite) and the WebAssembly kernels from "bptt/kernels.wasm".
// It also trains on 2 threads in a Web Worker (threads.js). test/e2e/browser-package.test.ts builds it
// against the built package and reads window.result.
import {
  checkpointFromBytes, checkpointToBytes, createWasmKernels, loadCheckpoint, sample, train, wasmSimdSupported,
} from "bptt";
import wasmUrl from "bptt/kernels.wasm?url";

async function run() {
  const kernels = createWasmKernels({ module: await WebAssembly.compileStreaming(fetch(wasmUrl)) });
  const text = "the cat sat on the mat.\nthe dog sat on the log.\n".repeat(60);
  const losses = [];
  const result = await train(
    { text, hiddenSize: 32, seqLength: 16, batchSize: 8, steps: 80, evalEvery: 0, lr: 1e-2, kernels },
    { onStep: (e) => losses.push(e.loss) },
  );
  const model = checkpointFromBytes(checkpointToBytes(result.checkpoint), "memory");
  let fileError = "";
  try {
    loadCheckpoint("model.safetensors");
  } catch (e) {
    fileError = e instanceof Error ? e.message : String(e);
  }
  return {
    simd: wasmSimdSupported(), kernels: kernels.name, fallbackCalls: kernels.fallbackCalls, threads: result.threads,
    first: losses[0], last: losses[losses.length - 1], sample: sample(model, { length: 40, seed: 1, kernels }), fileError,
    threaded: await trainInWorker(),
  };
}

/** threads.js's answer: training on 2 threads needs a worker (a page may not block in Atomics.wait). */
function trainInWorker() {
  const worker = new Worker(new URL("./threads.js", import.meta.url), { type: "module" });
  return new Promise((resolve) => {
    worker.addEventListener("message", (e) => { worker.terminate(); resolve(e.data); });
    worker.addEventListener("error", (e) => resolve({ error: `threads.js: ${e.message ?? "did not load"}` }));
  });
}

run().then(
  (r) => { window.result = r; },
  (e) => { window.result = { error: e instanceof Error ? (e.stack ?? e.message) : String(e) }; },
);
