/**
 * The one-hot input: its fast layer against its float64 reference on every kernel implementation
 * (the gather exactly, the scatter-add to float32 rounding), its spec, and its check of a batch's inputs.
 */
import { describe, expect, it } from "vitest";
import { DataError, ShapeError } from "../../errors.ts";
import { availableKernels } from "../../kernels/index.ts";
import type { ModelConfig } from "../../model/config.ts";
import { Rng } from "../../rng.ts";
import { onehotInput } from "./index.ts";
import { inKernelMemory, randomValues } from "../../../test/helpers.ts";

const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", layers: 1, hiddenSize: 3, vocabSize: 7, bias: true };
const GH = 4 * config.hiddenSize;
const V = config.vocabSize;
const T = 5, B = 3, rows = T * B;


describe.each(availableKernels().map((k) => [k.name, k] as const))("one-hot input, %s kernels", (_name, k) => {
  const rng = new Rng(17);
  const Wi = Float32Array.from(randomValues(GH * V, rng));
  const ids = Int32Array.from({ length: rows }, () => rng.int(V));
  const dxProj = Float32Array.from(randomValues(rows * GH, rng));
  const dWi0 = Float32Array.from(randomValues(GH * V, rng));

  it("forward: row t·B + b of xProj is the reference's W_ih x_t of sequence b, exactly (a column of W_ih)", () => {
    const owned: Float32Array[] = [];
    const xProj = inKernelMemory(k, new Float32Array(rows * GH), owned);
    onehotInput.layer.forward(xProj, inKernelMemory(k, Wi, owned), [], ids, rows, GH, config, k);
    for (let t = 1; t <= T; t++) {
      for (let b = 0; b < B; b++) {
        const want = onehotInput.reference.project(Float64Array.from(Wi), [], ids, t, b, B, GH, config);
        const r = (t - 1) * B + b;
        expect(Array.from(xProj.subarray(r * GH, (r + 1) * GH)), `t=${t}, b=${b}`).toEqual(Array.from(want));
      }
    }
    owned.forEach((a) => k.free(a));
  });

  it("backward: dW_ih += Σ ∂E/∂(W_ih x_t) x_tᵀ as the reference accumulates it, to float32 rounding", () => {
    const owned: Float32Array[] = [];
    const dWi = inKernelMemory(k, dWi0, owned);
    onehotInput.layer.backward(dWi, [], inKernelMemory(k, dxProj, owned), inKernelMemory(k, Wi, owned), [], ids, rows, GH, config, k);
    const want = Float64Array.from(dWi0);
    for (let t = 1; t <= T; t++) {
      for (let b = 0; b < B; b++) {
        const r = (t - 1) * B + b;
        onehotInput.reference.backward(want, [], Float64Array.from(dxProj.subarray(r * GH, (r + 1) * GH)), Float64Array.from(Wi), [], ids, t, b, B, GH, config);
      }
    }
    want.forEach((w, i) => expect(Math.abs(dWi[i] - w), `dW_ih[${i}]`).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(w)));
    owned.forEach((a) => k.free(a));
  });
});

describe("one-hot input spec", () => {
  it("has no tensor of its own, gives the stack in_0 = V and one int32 id per step, and costs no product", () => {
    expect(onehotInput.tensors(config)).toEqual([]);
    expect(onehotInput.paramCount(config)).toBe(0);
    expect(onehotInput.width(config)).toBe(V);
    expect(onehotInput.layout(config)).toEqual({ type: "int32", per: "step", width: 1 });
    expect(onehotInput.trainingFlopsPerToken(config, GH)).toBe(0);
  });

  it("draws random ids in [0, V) that its check accepts", () => {
    const rng = new Rng(3);
    const ids = Int32Array.from({ length: 200 }, () => onehotInput.randomValue(config, rng));
    expect(() => onehotInput.check(ids, 40, 5, config)).not.toThrow();
    expect(new Set(ids).size).toBe(V);
  });

  it("refuses inputs that are not T·B token ids in [0, V), naming the position", () => {
    expect(() => onehotInput.check(new Float32Array(6), 2, 3, config)).toThrowError(ShapeError);
    expect(() => onehotInput.check(new Float32Array(6), 2, 3, config)).toThrowError(/batch\.inputs is a Float32Array; expected an Int32Array of token ids/);
    expect(() => onehotInput.check(new Int32Array(5), 2, 3, config)).toThrowError(/batch\.inputs has 5 tokens; expected T·B = 2·3 = 6/);
    const ids = new Int32Array(6);
    ids[4] = V;
    expect(() => onehotInput.check(ids, 2, 3, config)).toThrowError(DataError);
    expect(() => onehotInput.check(ids, 2, 3, config)).toThrowError(/input token 7 at t=1, b=1 is out of range for vocabSize 7/);
  });
});
