/**
 * Evaluation and sampling give their engine's kernel memory back: with the WebAssembly kernels it
 * is not garbage-collected, and the playground evaluates and samples many times in one worker.
 */
import { describe, expect, it } from "vitest";
import { createWasmKernels, wasmSimdSupported } from "../src/kernels/wasm.ts";
import { evaluate } from "../src/model/evaluate.ts";
import { initParams } from "../src/model/init.ts";
import { paramCount } from "../src/model/params.ts";
import { generate, sample } from "../src/model/sample.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { Rng } from "../src/rng.ts";

describe.runIf(wasmSimdSupported())("kernel memory of evaluate and sample (wasm kernels)", () => {
  it("is all given back, also when a generator is closed early", () => {
    const kernels = createWasmKernels();
    const vocab = ["a", "b", "c", "\n"];
    const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", bias: true, layers: 2, hiddenSize: 8, vocabSize: vocab.length };
    const params = new Float32Array(paramCount(config));
    initParams(params, config, new Rng(3));
    const model = { config, vocab, params };
    const before = kernels.heap.liveBytes;
    evaluate(model, "abcabc\nabca".repeat(20), { seqLength: 7, streams: 3, kernels });
    expect(kernels.heap.liveBytes).toBe(before);
    sample(model, { length: 30, kernels });
    expect(kernels.heap.liveBytes).toBe(before);
    for (const c of generate(model, { length: 30, kernels })) if (c === "a") break;
    expect(kernels.heap.liveBytes).toBe(before);
  });
});
