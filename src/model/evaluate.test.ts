/**
 * evaluateIds' accuracy at chosen positions against the float64 reference's most likely next
 * symbol, read over the same text as one sequence (the state carried across evaluate's chunks).
 */
import { describe, expect, it } from "vitest";
import { copyRecalls, copyTaskText } from "../data/copy-task.ts";
import { buildVocab, encode } from "../data/vocab.ts";
import { ConfigError } from "../errors.ts";
import type { SoftmaxPass } from "../heads/softmax/reference.ts";
import { portableKernels } from "../kernels/portable.ts";
import { referenceForward } from "../reference/lm.ts";
import { Rng } from "../rng.ts";
import type { ModelConfig } from "./config.ts";
import { evaluateIds } from "./evaluate.ts";
import { initParams } from "./init.ts";
import { LmEngine } from "./lm.ts";
import { paramCount } from "./params.ts";

describe("evaluateIds with accuracyAt", () => {
  const text = copyTaskText({ lag: 5, length: 600, seed: 3 });
  const vocab = buildVocab(text);
  const ids = encode(vocab, text);
  const config: ModelConfig = { cell: "gru", nonlinearity: "tanh", layers: 2, hiddenSize: 8, vocabSize: vocab.symbols.length, bias: true };
  const params = new Float32Array(paramCount(config));
  initParams(params, config, new Rng(4), { scale: 1.5 }); // large weights: confident, far from ties
  const model = { config, vocab: vocab.symbols, params };
  const recalls = copyRecalls(text);

  it("scores the positions by the most likely symbol, as the reference does over the text read as one sequence", () => {
    const n = ids.length;
    const batch = { inputs: Int32Array.from(ids.subarray(0, n - 1)), targets: Int32Array.from(ids.subarray(1)), T: n - 1, B: 1 };
    const cache = referenceForward(config, Float64Array.from(params), batch);
    const y = (cache.head[0] as SoftmaxPass).y; // the softmax head's (T, V) probabilities of the one sequence
    const V = config.vocabSize;
    let hits = 0;
    for (const pos of recalls) {
      const row = (pos - 1) * V; // the step that reads ids[pos − 1] predicts ids[pos]
      let best = 0;
      for (let v = 1; v < V; v++) if (y[row + v] > y[row + best]) best = v;
      if (best === ids[pos]) hits++;
    }
    expect(hits).toBeGreaterThan(0); // neither none nor all: the comparison tells
    expect(hits).toBeLessThan(recalls.length);
    for (const seqLength of [7, 200]) {
      const got = evaluateIds(model, ids, { seqLength, accuracyAt: recalls, kernels: portableKernels });
      expect(got.accuracy?.count).toBe(recalls.length);
      expect(got.accuracy?.share, `seqLength ${seqLength}`).toBe(hits / recalls.length);
    }
    // every position: the share of symbols predicted right
    const all = Int32Array.from({ length: n - 1 }, (_, i) => i + 1);
    const every = evaluateIds(model, ids, { accuracyAt: all, kernels: portableKernels });
    expect(every.accuracy?.count).toBe(n - 1);
    expect(every.accuracy?.share).toBeGreaterThan(0);
    expect(evaluateIds(model, ids, { kernels: portableKernels }).accuracy).toBeUndefined();
  });

  it("refuses positions that predict nothing, and an engine of the caller's", () => {
    expect(() => evaluateIds(model, ids, { accuracyAt: Int32Array.of(0) })).toThrow(ConfigError);
    expect(() => evaluateIds(model, ids, { accuracyAt: Int32Array.of(ids.length) })).toThrow(`accuracyAt positions must be in [1, ${ids.length - 1}]`);
    const engine = new LmEngine(config, portableKernels);
    expect(() => evaluateIds(model, ids, { accuracyAt: recalls, engine })).toThrow(/give no engine/);
  });
});
