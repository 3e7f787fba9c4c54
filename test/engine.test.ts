/**
 * The fast float32 engine against the float64 reference (docs/architecture.md, The oracle): loss, every parameter
 * gradient, ∂E/∂(h_0, c_0) and the final state, over all configurations of every cell; truncated
 * BPTT over two chunks.
 * Every suite runs once per kernel implementation available here (portable, wasm), and once on
 * the threaded engine (wasm, 2 threads: B = 3 splits into slices of 2 and 1 streams, B = 8 into two of 4).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShapeError } from "../src/errors.ts";
import { availableKernels, wasmKernels } from "../src/kernels/index.ts";
import { createWasmKernels, wasmSimdSupported } from "../src/kernels/wasm.ts";
import { CELL_NAMES, cellOf } from "../src/cells/index.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { createLmBuffers, LmEngine, type TrainingEngine } from "../src/model/lm.ts";
import { ThreadedLmEngine, ThreadPool, threadsSupported } from "../src/model/threaded.ts";
import { paramCount, stateLength } from "../src/model/params.ts";
import { dropoutMasks } from "../src/nn/dropout.ts";
import { randomProblem } from "../src/reference/gradcheck.ts";
import { finalState, referenceForward, referenceLossAndGrads } from "../src/reference/lm.ts";
import { errorsByTensor, grid, normwiseRelError } from "./helpers.ts";

const TOLERANCE = 1e-4;

const cases = CELL_NAMES.flatMap((cell) => grid({
  cell: [cell],
  nonlinearity: cellOf(cell).nonlinearities,
  bias: [true, false],
  layers: [1, 2],
  T: [1, 2, 17],
  // B = 8 packs W_hh once per pass (T ≥ 2, B ≥ 4: src/cells/buffers.ts), also in 2 threads' slices of 4
  B: [1, 3, 8],
}));

/** An engine implementation under test: a name and how to make one for a config. */
interface EngineKind {
  readonly name: string;
  readonly make: (config: ModelConfig) => TrainingEngine;
}

const kinds: EngineKind[] = availableKernels().map((k) => ({ name: `${k.name} kernels`, make: (c) => new LmEngine(c, k) }));

// One pool of worker threads for every threaded engine of this file (starting workers from source takes a second).
let pool: ThreadPool | undefined;
if (threadsSupported() && wasmSimdSupported()) {
  beforeAll(async () => {
    pool = await ThreadPool.create({ threads: 2, kernels: wasmKernels() });
  });
  afterAll(() => pool?.terminate());
  kinds.push({
    name: "wasm kernels, 2 threads",
    make: (c) => {
      if (pool === undefined) throw new Error("no thread pool");
      return new ThreadedLmEngine(c, pool);
    },
  });
}

for (const kind of kinds) describeEngine(kind);

function describeEngine(kind: EngineKind): void {
  describe(`fast engine (${kind.name}) vs float64 reference`, () => {
    for (const c of cases) {
      const name = `${c.cell} ${c.nonlinearity} bias=${c.bias} L=${c.layers} T=${c.T} B=${c.B}`;
      it(name, () => {
        const config: ModelConfig = {
          cell: c.cell, nonlinearity: c.nonlinearity, bias: c.bias, layers: c.layers, hiddenSize: 7, vocabSize: 6,
        };
        const problem = randomProblem(config, c.T, c.B, 1234);
        // The reference runs on exactly the float32 values the engine sees.
        const params32 = Float32Array.from(problem.params);
        const h032 = Float32Array.from(problem.state0);
        const ref = referenceLossAndGrads(config, Float64Array.from(params32), problem.batch, Float64Array.from(h032));

        const engine = kind.make(config);
        const grads = new Float32Array(params32.length);
        const loss = engine.lossAndGrads(params32, grads, problem.batch, h032);

        expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(TOLERANCE);
        for (const [tensor, err] of errorsByTensor(config, grads, ref.grads)) {
          expect(err, `${tensor} (${name})`).toBeLessThan(TOLERANCE);
        }
        const part = c.layers * c.B * 7; // each state tensor (h, c) is (L, B, H)
        cellOf(c.cell).stateNames.forEach((n, i) => {
          const at = (a: ArrayLike<number> & { subarray(from: number, to: number): ArrayLike<number> }) => a.subarray(i * part, (i + 1) * part);
          expect(normwiseRelError(at(engine.dState0), at(ref.dState0)), `${n}0 (${name})`).toBeLessThan(TOLERANCE);
          expect(normwiseRelError(at(engine.finalState()), at(ref.stateT)), `${n}T (${name})`).toBeLessThan(TOLERANCE);
        });
        engine.dispose();
      });
    }
  });

  describe(`fast engine (${kind.name}) with dropout vs the reference with the same masks`, () => {
    for (const c of grid({ cell: CELL_NAMES, layers: [1, 2], B: [1, 3] })) {
      it(`${c.cell} L=${c.layers} B=${c.B}`, () => {
        const config: ModelConfig = { cell: c.cell, nonlinearity: "tanh", bias: true, layers: c.layers, hiddenSize: 7, vocabSize: 6 };
        const T = 5;
        const problem = randomProblem(config, T, c.B, 4321);
        const params32 = Float32Array.from(problem.params);
        const state32 = Float32Array.from(problem.state0);
        const dropout = { p: 0.3, outputP: 0.2, seed: 12345 };
        const masks = dropoutMasks(dropout, c.layers, T, c.B, 7);
        const ref = referenceLossAndGrads(config, Float64Array.from(params32), problem.batch, Float64Array.from(state32), masks);
        const engine = kind.make(config);
        const grads = new Float32Array(params32.length);
        const loss = engine.lossAndGrads(params32, grads, problem.batch, state32, 1, dropout);
        expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(TOLERANCE);
        for (const [tensor, err] of errorsByTensor(config, grads, ref.grads)) expect(err, tensor).toBeLessThan(TOLERANCE);
        expect(normwiseRelError(engine.dState0, ref.dState0)).toBeLessThan(TOLERANCE);
        // a pass without dropout on the same engine (evaluation during training) uses the whole network
        const plain = referenceLossAndGrads(config, Float64Array.from(params32), problem.batch, Float64Array.from(state32));
        expect(Math.abs(engine.loss(params32, problem.batch, state32) - plain.loss) / plain.loss).toBeLessThan(TOLERANCE);
        engine.lossAndGrads(params32, grads, problem.batch, state32);
        for (const [tensor, err] of errorsByTensor(config, grads, plain.grads)) expect(err, `${tensor} without dropout`).toBeLessThan(TOLERANCE);
        void engine.dispose();
      });
    }
  });

  for (const cell of CELL_NAMES) describe(`fast engine (${kind.name}) state handling, ${cell}`, () => {
    const config: ModelConfig = { cell, nonlinearity: "tanh", bias: true, layers: 2, hiddenSize: 8, vocabSize: 5 };

    it("two chunks with the state carried equal one long sequence", () => {
      const T = 12, B = 3, half = 6;
      const problem = randomProblem(config, T, B, 99);
      const params = Float32Array.from(problem.params);
      const engine = kind.make(config);
      const whole = engine.loss(params, problem.batch);
      const hWhole = engine.finalState();

      const chunk = (from: number, to: number) => ({
        inputs: problem.batch.inputs.slice(from * B, to * B),
        targets: problem.batch.targets.slice(from * B, to * B),
        T: to - from,
        B,
      });
      const first = engine.loss(params, chunk(0, half));
      const h = engine.finalState();
      const second = engine.loss(params, chunk(half, T), h);
      expect(Math.abs(first + second - whole) / whole).toBeLessThan(1e-6);
      expect(normwiseRelError(engine.finalState(), hWhole)).toBeLessThan(1e-6);

      // and the reference agrees on the carried state
      const refCache = referenceForward(config, Float64Array.from(params), problem.batch);
      expect(normwiseRelError(hWhole, finalState(refCache))).toBeLessThan(TOLERANCE);
    });

    it("an omitted initial state equals zeros", () => {
      const problem = randomProblem(config, 4, 2, 5);
      const params = Float32Array.from(problem.params);
      const engine = kind.make(config);
      const a = engine.loss(params, problem.batch);
      const b = engine.loss(params, problem.batch, new Float32Array(stateLength(config, 2)));
      expect(a).toBe(b);
    });

    it("rejects wrong parameter, gradient and state lengths and bad tokens", () => {
      const problem = randomProblem(config, 3, 2, 5);
      const params = Float32Array.from(problem.params);
      const engine = kind.make(config);
      expect(() => engine.loss(params.subarray(1), problem.batch)).toThrowError(/params has \d+ values; expected \d+/);
      expect(() => engine.lossAndGrads(params, new Float32Array(3), problem.batch)).toThrowError(/grads has 3 values/);
      expect(() => engine.loss(params, problem.batch, new Float32Array(5))).toThrowError(
        new RegExp(`the initial state has 5 values; expected .*L·B·H.* = ${stateLength(config, 2)} for cell ${cell}`),
      );
      const bad = { ...problem.batch, inputs: Int32Array.from(problem.batch.inputs, (x, i) => (i === 4 ? 9 : x)) };
      expect(() => engine.loss(params, bad)).toThrowError(/input token 9 at t=2, b=0 is out of range for vocabSize 5/);
    });
  });
}

describe.runIf(wasmSimdSupported())("fast engine on WebAssembly memory", () => {
  const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", bias: true, layers: 2, hiddenSize: 9, vocabSize: 7 };

  it("never falls back to copying kernels, with plain or resident parameters and gradients", () => {
    const kernels = createWasmKernels();
    const engine = new LmEngine(config, kernels);
    const problem = randomProblem(config, 5, 3, 7);
    const params = Float32Array.from(problem.params);
    const grads = new Float32Array(params.length);
    const h0 = Float32Array.from(problem.state0);
    const loss = engine.lossAndGrads(params, grads, problem.batch, h0);
    // the same parameters already in kernel memory: used in place, same results
    const residentParams = engine.allocateParams();
    residentParams.set(params);
    const residentGrads = engine.allocateParams();
    expect(residentGrads.length).toBe(paramCount(config));
    expect(kernels.isResident(residentParams)).toBe(true);
    expect(engine.lossAndGrads(residentParams, residentGrads, problem.batch, h0)).toBe(loss);
    expect(Array.from(residentGrads)).toEqual(Array.from(grads));
    engine.loss(params, problem.batch);
    expect(kernels.fallbackCalls).toBe(0);
  });

  it("runs a smaller shape in the memory of a larger one: no allocation, the results of a fresh engine", () => {
    const kernels = createWasmKernels();
    const engine = new LmEngine(config, kernels);
    const large = randomProblem(config, 9, 4, 5), small = randomProblem(config, 3, 2, 6);
    const params = Float32Array.from(large.params);
    const grads = new Float32Array(params.length);
    const h0 = Float32Array.from(small.state0);
    const first = engine.lossAndGrads(params, grads, large.batch);
    const held = kernels.heap.liveBytes;
    const fresh = new LmEngine(config, kernels);
    const want = new Float32Array(params.length);
    const wantLoss = fresh.lossAndGrads(params, want, small.batch, h0);
    const wantDh0 = Array.from(fresh.dState0), wantState = Array.from(fresh.finalState());
    fresh.dispose();
    // stale values of the larger shape in the reused memory change nothing
    expect(engine.lossAndGrads(params, grads, small.batch, h0)).toBe(wantLoss);
    expect(Array.from(grads)).toEqual(Array.from(want));
    expect(Array.from(engine.dState0)).toEqual(wantDh0);
    expect(Array.from(engine.finalState())).toEqual(wantState);
    expect(kernels.heap.liveBytes).toBe(held);
    expect(engine.lossAndGrads(params, grads, large.batch)).toBe(first);
    expect(kernels.heap.liveBytes).toBe(held);
    engine.dispose();
  });

  it("never keeps freed memory when a larger shape cannot be allocated", () => {
    const kernels = createWasmKernels();
    const scratchOnly = kernels.heap.liveBytes;
    let limit = Infinity;
    const failing = new Proxy(kernels, {
      get: (target, key, receiver): unknown => key !== "allocate" ? Reflect.get(target, key, receiver) : (n: number): Float32Array => {
        if (n > limit) throw new ShapeError("out of kernel memory (test)");
        return target.allocate(n);
      },
    });
    const engine = new LmEngine(config, failing);
    const small = randomProblem(config, 4, 2, 3), large = randomProblem(config, 9, 3, 3);
    const params = engine.allocateParams();
    params.set(small.params);
    const want = engine.loss(params, small.batch);
    const smallFloats = createLmBuffers(config, 4, 2).memory.length;
    limit = smallFloats;
    expect(() => engine.loss(params, large.batch)).toThrowError(/out of kernel memory/);
    limit = Infinity;
    // whatever is allocated next may take the memory the small shape's buffers had: the engine must not write there
    const other = kernels.allocate(smallFloats).fill(NaN);
    expect(engine.loss(params, small.batch)).toBe(want);
    expect(other.every(Number.isNaN)).toBe(true);
    kernels.free(other);
    kernels.free(params);
    engine.dispose();
    expect(kernels.heap.liveBytes).toBe(scratchOnly);
  });

  it("keeps working when other allocations grow the memory between calls, and after a shape change", () => {
    const kernels = createWasmKernels();
    const engine = new LmEngine(config, kernels);
    const problem = randomProblem(config, 4, 2, 11);
    const params = Float32Array.from(problem.params);
    const grads = new Float32Array(params.length);
    const before = engine.lossAndGrads(params, grads, problem.batch);
    const gradsBefore = Float32Array.from(grads);
    const bytes = kernels.memory.buffer.byteLength;
    const other = kernels.allocate(16 * 1024 * 1024); // 64 MiB elsewhere: the memory grows
    expect(kernels.memory.buffer.byteLength).toBeGreaterThan(bytes);
    expect(engine.lossAndGrads(params, grads, problem.batch)).toBe(before);
    expect(Array.from(grads)).toEqual(Array.from(gradsBefore));
    kernels.free(other);
    const longer = randomProblem(config, 9, 3, 11);
    const ref = referenceLossAndGrads(config, Float64Array.from(params), longer.batch, new Float64Array(config.layers * 3 * 9));
    const loss = engine.lossAndGrads(params, grads, longer.batch);
    expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(TOLERANCE);
    engine.dispose();
    expect(engine.lossAndGrads(params, grads, problem.batch)).toBe(before);
    expect(kernels.fallbackCalls).toBe(0);
    // dispose gives every block back: the heap holds only the kernels' own scratch again
    const scratchOnly = createWasmKernels().heap.liveBytes;
    engine.dispose();
    expect(kernels.heap.liveBytes).toBe(scratchOnly);
  });
});
