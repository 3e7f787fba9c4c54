/**
 * Sampling: the distribution a character is drawn from (temperature, top-k, nucleus top-p) and
 * where a sample ends (length, --stop).
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { portableKernels } from "../kernels/portable.ts";
import { Rng } from "../rng.ts";
import type { ModelConfig } from "./config.ts";
import { initParams } from "./init.ts";
import type { LanguageModel } from "./language-model.ts";
import { paramCount } from "./params.ts";
import { sample, SAMPLE_DEFAULTS, samplingWeights } from "./sample.ts";

const normalised = (w: Float64Array): number[] => {
  const s = w.reduce((a, b) => a + b, 0);
  return Array.from(w, (v) => v / s);
};

describe("samplingWeights", () => {
  const y = new Float32Array([0.15, 0.5, 0.05, 0.3]);
  const work = new Float64Array(4);

  it("keeps the nucleus: the most likely symbols until their probability reaches p", () => {
    samplingWeights(work, y, 1, 0, 0.7); // 0.5 + 0.3 = 0.8 ≥ 0.7
    expect(normalised(work).map((v) => v.toFixed(6))).toEqual(["0.000000", "0.625000", "0.000000", "0.375000"]);
    samplingWeights(work, y, 1, 0, 0.45); // 0.5 alone reaches 0.45
    expect(normalised(work)).toEqual([0, 1, 0, 0]);
    samplingWeights(work, y, 1, 0, 1e-9); // always at least the most likely one
    expect(normalised(work)).toEqual([0, 1, 0, 0]);
  });

  it("is the tempered softmax with p = 1, and applies top-k before top-p", () => {
    samplingWeights(work, y, 0.5, 0, 1); // ∝ y²
    const sq = Array.from(y, (v) => v * v), total = sq.reduce((a, b) => a + b, 0);
    normalised(work).forEach((v, j) => expect(v).toBeCloseTo((sq[j] as number) / total, 6));
    samplingWeights(work, y, 1, 3, 0.9); // top 3: 0.5, 0.3, 0.15 (of 0.95); the nucleus of 0.9 of that needs all three
    expect(normalised(work).map((v) => v > 0)).toEqual([true, true, false, true]);
  });
});

describe("sample", () => {
  const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", layers: 1, hiddenSize: 8, vocabSize: 4, bias: true };
  const params = new Float32Array(paramCount(config));
  initParams(params, config, new Rng(3), { scale: 1.5 });
  const model: LanguageModel = { config, vocab: ["a", "b", "c", "\n"], params };
  const opts = { length: 300, seed: 5, kernels: portableKernels };

  it("top-p 1 is the default draw; a tiny top-p is the argmax", () => {
    expect(sample(model, { ...opts, topP: 1 })).toBe(sample(model, opts));
    expect(sample(model, { ...opts, topP: 1e-9 })).toBe(sample(model, { ...opts, temperature: 0 }));
  });

  it("ends right after the stop text, or at the length", () => {
    const free = sample(model, opts);
    const at = free.indexOf("ba");
    expect(at).toBeGreaterThanOrEqual(0); // the seed makes one (checked here, so the test cannot pass vacuously)
    expect(sample(model, { ...opts, stop: "ba" })).toBe(free.slice(0, at + 2));
    expect(sample(model, { ...opts, stop: "not in the vocabulary" })).toBe(free);
  });

  it("refuses top-p outside (0, 1]", () => {
    expect(() => sample(model, { ...opts, topP: 0 })).toThrowError(ConfigError);
    expect(() => sample(model, { ...opts, topP: 1.5 })).toThrowError(/^topP: expected a number in \(0, 1\]; received 1\.5$/);
    expect(() => sample(model, { ...opts, length: -1 })).toThrowError(/^length: expected an integer in \[0, 100000000\]; received -1$/);
  });

  it("takes the defaults of its option table, the ones `bptt sample --help` shows", () => {
    expect(SAMPLE_DEFAULTS).toEqual({ length: 500, temperature: 1, topK: 0, topP: 1, skipUnknown: false, seed: 1 });
    const { kernels } = opts;
    expect(sample(model, { kernels })).toBe(sample(model, { ...SAMPLE_DEFAULTS, kernels }));
    expect(sample(model, { kernels })).toHaveLength(SAMPLE_DEFAULTS.length);
  });
});
