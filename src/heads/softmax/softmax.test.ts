/**
 * The softmax cross-entropy head: its fast layer against its float64 reference on every kernel
 * implementation (loss, probabilities, ∂E/∂h_t and the gradients of fc.weight and fc.bias), its
 * spec, and its check of a batch's targets.
 */
import { describe, expect, it } from "vitest";
import { DataError, ShapeError } from "../../errors.ts";
import { availableKernels } from "../../kernels/index.ts";
import type { ModelConfig } from "../../model/config.ts";
import { Rng } from "../../rng.ts";
import { softmaxHead } from "./index.ts";
import { softmaxReference } from "./reference.ts";
import { inKernelMemory, randomValues } from "../../../test/helpers.ts";

const base: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: 4, vocabSize: 6, bias: true };
const H = base.hiddenSize, V = base.vocabSize;
const T = 3, B = 2, rows = T * B;
const TOLERANCE = { atol: 1e-5, rtol: 1e-4 };


function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} against ${want[i]}`).toBeLessThanOrEqual(TOLERANCE.atol + TOLERANCE.rtol * Math.abs(want[i]));
  }
}

describe.each(availableKernels().flatMap((k) => [true, false].map((bias) => [k.name, bias, k] as const)))("softmax head, %s kernels, bias=%s", (_name, bias, k) => {
  const config: ModelConfig = { ...base, bias };
  const rng = new Rng(bias ? 5 : 6);
  const shapes = softmaxHead.tensors(config);
  const own = shapes.map((s) => Float32Array.from(randomValues(s.shape.reduce((a, b) => a * b, 1), rng)));
  const top = Float32Array.from(randomValues(rows * H, rng));
  const targets = Int32Array.from({ length: rows }, () => rng.int(V));
  const scale = 0.25;
  // the reference reads the top layer as (T+1, B, H) with h_0 in slot 0 (the head never reads it)
  const x = new Float64Array((T + 1) * B * H);
  x.set(top, B * H);
  const own64 = own.map((a) => Float64Array.from(a));

  it("forward and backward agree with the reference: E, y, ∂E/∂h_t and the gradients of its tensors (scaled)", () => {
    const owned: Float32Array[] = [];
    const out = inKernelMemory(k, new Float32Array(softmaxHead.layer.bufferFloats(T, B, config)), owned);
    const ownK = own.map((a) => inKernelMemory(k, a, owned));
    const topK = inKernelMemory(k, top, owned);
    const loss = softmaxHead.layer.forward(out, topK, ownK, targets, T, B, config, k);
    const passes = Array.from({ length: B }, (_, b) => softmaxReference.forward(own64, x, targets, b, T, B, config));
    const want = passes.reduce((E, p) => E + p.losses.reduce((a, e) => a + e, 0), 0);
    expect(Math.abs(loss - want) / want).toBeLessThan(1e-5);
    // y_t of sequence b, row t·B + b of the fast layer's block
    const y = new Float64Array(rows * V);
    passes.forEach((p, b) => { for (let t = 0; t < T; t++) y.set(p.y.subarray(t * V, (t + 1) * V), (t * B + b) * V); });
    expectClose(out, y, "y");

    const dTop = inKernelMemory(k, new Float32Array(rows * H), owned);
    const gOwn = own.map((a) => inKernelMemory(k, new Float32Array(a.length), owned));
    softmaxHead.layer.backward(dTop, gOwn, out, topK, ownK, targets, scale, T, B, config, k);
    const g64 = own.map((a) => new Float64Array(a.length));
    const dx = new Float64Array(rows * H);
    passes.forEach((p, b) => {
      const d = softmaxReference.backward(own64, g64, x, p, targets, b, T, B, config);
      for (let t = 0; t < T; t++) dx.set(d.subarray(t * H, (t + 1) * H), (t * B + b) * H);
    });
    expectClose(dTop, dx.map((v) => scale * v), "∂E/∂h");
    shapes.forEach((s, i) => expectClose(gOwn[i], g64[i].map((v) => scale * v), s.name));
    owned.forEach((a) => k.free(a));
  });
});

describe("softmax head spec", () => {
  it("registers its reference", () => {
    expect(softmaxHead.reference).toBe(softmaxReference);
  });

  it("is nn.Linear(H, V): fc.weight [V, H] and fc.bias [V] (none without bias), counted in closed form", () => {
    expect(softmaxHead.tensors(base)).toEqual([{ name: "fc.weight", shape: [V, H] }, { name: "fc.bias", shape: [V] }]);
    expect(softmaxHead.tensors({ ...base, bias: false })).toEqual([{ name: "fc.weight", shape: [V, H] }]);
    for (const bias of [true, false]) {
      const c = { ...base, bias };
      expect(softmaxHead.paramCount(c)).toBe(softmaxHead.tensors(c).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0));
    }
    expect(softmaxHead.layout(base)).toEqual({ type: "int32", per: "step", width: 1 });
    expect(softmaxHead.trainingFlopsPerToken(base)).toBe(6 * V * H);
  });

  it("refuses targets that are not T·B token ids in [0, V), naming the position", () => {
    expect(() => softmaxHead.check(new Float32Array(4), 2, 2, base)).toThrowError(ShapeError);
    expect(() => softmaxHead.check(new Int32Array(5), 2, 2, base)).toThrowError(/batch\.targets has 5 tokens; expected T·B = 2·2 = 4/);
    expect(() => softmaxHead.check(Int32Array.of(0, 1, -1, 2), 2, 2, base)).toThrowError(DataError);
    expect(() => softmaxHead.check(Int32Array.of(0, 1, -1, 2), 2, 2, base)).toThrowError(/target token -1 at t=1, b=0 is out of range for vocabSize 6/);
  });
});
