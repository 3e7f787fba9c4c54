/**
 * The cells' diagnostics against the float64 reference: what each view reads from its layer's
 * buffers is what the math says it is (dh̄_t, da_t, dc_t, h_t, c_t, the gates), and the shared
 * norm and saturation helpers equal plain float64 loops.
 */
import { describe, expect, it } from "vitest";
import { ShapeError } from "../errors.ts";
import { portableKernels } from "../kernels/portable.ts";
import type { CellName, ModelConfig, Nonlinearity } from "../model/config.ts";
import { NONLINEARITIES } from "../model/config.ts";
import { LmEngine } from "../model/lm.ts";
import { paramSpecs, paramViews } from "../model/params.ts";
import { normwiseRelError, randomProblem } from "../reference/gradcheck.ts";
import { referenceBackward, referenceForward } from "../reference/lm.ts";
import {
  GATE_SATURATION_THRESHOLD, isSaturated, recurrentGradTermNorms, saturationShares, sequenceOverTime, stepNorms,
} from "./diagnostics.ts";
import type { GruBuffers } from "./gru/layer.ts";
import type { GruStep } from "./gru/reference.ts";
import type { LstmBuffers } from "./lstm/layer.ts";
import type { LstmStep } from "./lstm/reference.ts";
import type { RnnBuffers } from "./rnn/layer.ts";
import type { CellBuffers } from "./types.ts";

const TOLERANCE = 1e-4; // float32 engine against the float64 reference
const H = 6;

/** One chunk through the fast engine (keeping its activations) and the float64 reference, on the same float32 values. */
function run(cell: CellName, nonlinearity: Nonlinearity, layers: number, T: number, B: number) {
  const config: ModelConfig = { cell, nonlinearity, bias: true, layers, hiddenSize: H, vocabSize: 5 };
  const problem = randomProblem(config, T, B, 99);
  const params32 = Float32Array.from(problem.params);
  const state32 = Float32Array.from(problem.state0);
  const engine = new LmEngine(config, portableKernels, { diagnostics: true });
  engine.lossAndGrads(params32, new Float32Array(params32.length), problem.batch, state32);
  const buffers: readonly CellBuffers[] | undefined = engine.activations?.layers;
  if (buffers === undefined) throw new Error("no buffers after lossAndGrads");
  const params = Float64Array.from(params32);
  const state0 = Float64Array.from(state32);
  const cache = referenceForward(config, params, problem.batch, state0);
  const ref = referenceBackward(cache);
  return { config, problem, params, state0, engine, layers: buffers, cache, ref };
}

/** Σ_t Σ_b da_{t,b} h_{t−1,b}ᵀ formed explicitly in float64, (W, H) row-major: dW_hh rebuilt from a layer's da. */
function rebuildWh(da: Float32Array, hPrev: Float32Array, T: number, B: number, W: number): Float64Array {
  const c = new Float64Array(W * H);
  for (let r = 0; r < T * B; r++) {
    for (let i = 0; i < W; i++) for (let j = 0; j < H; j++) c[i * H + j] += da[r * W + i] * hPrev[r * H + j];
  }
  return c;
}

describe("the simple RNN's view", () => {
  for (const f of NONLINEARITIES) {
    for (const L of [1, 2]) {
      it(`${f} L=${L}: hs = h_t of the reference, and dhs is dh̄_t (B5 and B6 rebuilt from it)`, () => {
        const T = 4, B = 3;
        const { config, params, engine, layers, cache, ref } = run("rnn", f, L, T, B);
        const P = paramViews(config, params);
        const G = paramViews(config, ref.grads);
        layers.forEach((lb, l) => {
          const { hs, dhs, hPrev } = lb as RnnBuffers;
          expect(normwiseRelError(hs, cache.h[l]), `hs layer ${l}`).toBeLessThan(TOLERANCE);
          // B5  dW_h = Σ_t dh̄_t h_{t−1}ᵀ;  db_h = Σ dh̄_t
          expect(normwiseRelError(rebuildWh(dhs, hPrev, T, B, H), G.layers[l].Wh), `dW_h layer ${l}`).toBeLessThan(TOLERANCE);
          const dbh = new Float64Array(H);
          for (let i = 0; i < T * B * H; i++) dbh[i % H] += dhs[i];
          expect(normwiseRelError(dbh, G.layers[l].bhh as Float64Array), `db_h layer ${l}`).toBeLessThan(TOLERANCE);
          // B6  dh_0 = W_hᵀ dh̄_1
          const dh0 = new Float64Array(B * H);
          for (let b = 0; b < B; b++) {
            for (let j = 0; j < H; j++) for (let i = 0; i < H; i++) dh0[b * H + j] += P.layers[l].Wh[i * H + j] * dhs[b * H + i];
          }
          expect(normwiseRelError(dh0, ref.dState0.subarray(l * B * H, (l + 1) * B * H)), `dh_0 layer ${l}`).toBeLessThan(TOLERANCE);
        });
        const d = engine.diagnostics();
        expect(d?.map((x) => x.series.map((s) => s.key))).toEqual(Array.from({ length: L }, () => ["dhBar", "whTerm"]));
        // the saturation share is a count over the reference's h_t
        let count = 0;
        for (let i = B * H; i < (T + 1) * B * H; i++) if (isSaturated(cache.h[0][i], f)) count++;
        expect(d?.[0]?.saturation[0]?.low).toBeCloseTo(count / (T * B * H), 1);
      });
    }
  }
});

describe("the LSTM's view", () => {
  it("reads h_t, c_t, the gates and da_t of the reference; dc_t by ∂E/∂c_{t−1} = f_t ⊙ dc_t of the reference's later steps", () => {
    const T = 5, B = 2;
    const { config, problem, params, engine, layers, cache, ref } = run("lstm", "tanh", 1, T, B);
    const lb = layers[0] as LstmBuffers;
    const steps = cache.steps[0] as readonly (readonly LstmStep[])[];
    const G = paramViews(config, ref.grads);
    // L8  dW_hh = Σ_t da_t h_{t−1}ᵀ: the da_t the view plots are the gradient's terms
    expect(normwiseRelError(rebuildWh(lb.dGates, lb.hPrev, T, B, 4 * H), G.layers[0].Wh)).toBeLessThan(TOLERANCE);
    for (let b = 0; b < B; b++) {
      const h = engine.stateOverTime(0, 0, b), c = engine.stateOverTime(0, 1, b);
      for (let t = 1; t <= T; t++) {
        const step = steps[b][t - 1];
        expect(normwiseRelError(h.subarray((t - 1) * H, t * H), step.state[0])).toBeLessThan(TOLERANCE);
        expect(normwiseRelError(c.subarray((t - 1) * H, t * H), step.state[1])).toBeLessThan(TOLERANCE);
        const row = ((t - 1) * B + b) * 4 * H;
        expect(normwiseRelError(lb.gates.subarray(row, row + 4 * H), step.gates)).toBeLessThan(TOLERANCE);
      }
    }
    // dc_t: the reference run over steps t..T from its own state at t−1 has ∂E/∂c_{t−1} = f_t ⊙ dc_t
    for (let t = 1; t <= T; t++) {
      const sub = { inputs: problem.batch.inputs.slice((t - 1) * B), targets: problem.batch.targets.slice((t - 1) * B), T: T - t + 1, B };
      const state = new Float64Array(2 * B * H);
      for (let b = 0; b < B; b++) {
        const prev = t === 1 ? undefined : steps[b][t - 2].state;
        state.set(prev?.[0] ?? problem.state0.subarray(b * H, (b + 1) * H), b * H);
        state.set(prev?.[1] ?? problem.state0.subarray((B + b) * H, (B + b + 1) * H), (B + b) * H);
      }
      const later = referenceBackward(referenceForward(config, params, sub, state));
      const want = later.dState0.subarray(B * H);
      const got = new Float64Array(B * H);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < H; j++) got[b * H + j] = lb.gates[((t - 1) * B + b) * 4 * H + H + j] * lb.dcs[((t - 1) * B + b) * H + j];
      }
      expect(normwiseRelError(got, want), `f_${t} ⊙ dc_${t}`).toBeLessThan(TOLERANCE);
    }
    const d = engine.diagnostics()?.[0];
    expect(d?.series.map((s) => s.key)).toEqual(["da", "dc", "whTerm"]);
    expect(Array.from(d?.series[1]?.values ?? [])).toEqual(Array.from(stepNorms(lb.dcs, T, B, H)));
    expect(d?.saturation.map((s) => s.gate)).toEqual(["i", "f", "g", "o"]);
  });

  it("counts gate saturation as a count over the reference's gates (σ < 0.1 or > 0.9; tanh beyond ±0.8)", () => {
    const T = 6, B = 3;
    const { engine, cache } = run("lstm", "tanh", 1, T, B);
    const steps = cache.steps[0] as readonly (readonly LstmStep[])[];
    const d = engine.diagnostics()?.[0];
    ["i", "f", "g", "o"].forEach((gate, q) => {
      let low = 0, high = 0;
      for (const seq of steps) {
        for (const step of seq) {
          for (let j = 0; j < H; j++) {
            const a = step.gates[q * H + j];
            const s = gate === "g" ? a : 2 * a - 1;
            if (s < -GATE_SATURATION_THRESHOLD) low++;
            else if (s > GATE_SATURATION_THRESHOLD) high++;
          }
        }
      }
      const n = T * B * H;
      const got = d?.saturation[q];
      expect(got?.low, `${gate} low`).toBeCloseTo(low / n, 1);
      expect(got?.high, `${gate} high`).toBeCloseTo(high / n, 1);
    });
  });
});

describe("the GRU's view", () => {
  it("reads the gates and the reference's a^h; da^x and da^h rebuild dW_ih's and dW_hh's bias terms and dW_hh", () => {
    const T = 4, B = 2;
    const { config, engine, layers, cache, ref } = run("gru", "tanh", 1, T, B);
    const lb = layers[0] as GruBuffers;
    const steps = cache.steps[0] as readonly (readonly GruStep[])[];
    const G = paramViews(config, ref.grads);
    expect(normwiseRelError(rebuildWh(lb.dhProj, lb.hPrev, T, B, 3 * H), G.layers[0].Wh)).toBeLessThan(TOLERANCE);
    const dbih = new Float64Array(3 * H), dbhh = new Float64Array(3 * H);
    for (let i = 0; i < T * B * 3 * H; i++) {
      dbih[i % (3 * H)] += lb.dx[i];
      dbhh[i % (3 * H)] += lb.dhProj[i];
    }
    expect(normwiseRelError(dbih, G.layers[0].bih as Float64Array)).toBeLessThan(TOLERANCE);
    expect(normwiseRelError(dbhh, G.layers[0].bhh as Float64Array)).toBeLessThan(TOLERANCE);
    for (let b = 0; b < B; b++) {
      for (let t = 1; t <= T; t++) {
        const row = ((t - 1) * B + b) * 3 * H;
        expect(normwiseRelError(lb.gates.subarray(row, row + 3 * H), steps[b][t - 1].gates)).toBeLessThan(TOLERANCE);
        expect(normwiseRelError(lb.hProj.subarray(row, row + 3 * H), steps[b][t - 1].ah)).toBeLessThan(TOLERANCE);
      }
    }
    const d = engine.diagnostics()?.[0];
    expect(d?.series.map((s) => s.key)).toEqual(["da", "dh", "whTerm"]);
    expect(d?.saturation.map((s) => s.gate)).toEqual(["r", "z", "n"]);
    expect(paramSpecs(config)[0]?.shape).toEqual([3 * H, 5]);
  });
});

describe("without diagnostics: true, an engine reports none (the gated cells overwrite their gates)", () => {
  it("returns undefined", () => {
    const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", bias: true, layers: 1, hiddenSize: 3, vocabSize: 4 };
    const problem = randomProblem(config, 2, 1, 1);
    const engine = new LmEngine(config, portableKernels);
    engine.lossAndGrads(Float32Array.from(problem.params), new Float32Array(problem.params.length), problem.batch);
    expect(engine.diagnostics()).toBeUndefined();
  });
});

describe("stepNorms and recurrentGradTermNorms", () => {
  it("equal plain float64 norms, the terms without the Gram-matrix shortcut", () => {
    const T = 5, B = 4, W = 2 * H;
    const da = Float32Array.from({ length: T * B * W }, (_, i) => Math.sin(i * 1.7));
    const hPrev = Float32Array.from({ length: T * B * H }, (_, i) => Math.cos(i * 0.3));
    const norms = stepNorms(da, T, B, W);
    const terms = recurrentGradTermNorms(da, hPrev, T, B, W, H);
    for (let t = 1; t <= T; t++) {
      let s = 0;
      for (let i = (t - 1) * B * W; i < t * B * W; i++) s += da[i] ** 2;
      expect(norms[t - 1]).toBeCloseTo(Math.sqrt(s), 12);
      const c = rebuildWh(da.subarray((t - 1) * B * W, t * B * W), hPrev.subarray((t - 1) * B * H, t * B * H), 1, B, W);
      const frobenius = Math.sqrt(c.reduce((a, v) => a + v * v, 0));
      expect(Math.abs(terms[t - 1] - frobenius)).toBeLessThanOrEqual(1e-12 * Math.max(frobenius, 1e-30));
    }
  });

  it("are zero where the gradient is zero, and T = 1 works", () => {
    const da = new Float32Array(2 * 3);
    const hPrev = new Float32Array(2 * 3).fill(0.5);
    expect(Array.from(stepNorms(da, 1, 2, 3))).toEqual([0]);
    expect(Array.from(recurrentGradTermNorms(da, hPrev, 1, 2, 3, 3))).toEqual([0]);
    da[0] = 3;
    da[4] = 4; // sequence 1, unit 1
    expect(stepNorms(da, 1, 2, 3)[0]).toBeCloseTo(5, 12);
    // C_1 = [3,0,0]ᵀ[.5,.5,.5] + [0,4,0]ᵀ[.5,.5,.5]: rows 3/2·1 and 4/2·1, ‖·‖_F = √(3·(1.5² + 2²)) = √18.75
    expect(recurrentGradTermNorms(da, hPrev, 1, 2, 3, 3)[0]).toBeCloseTo(Math.sqrt(18.75), 6);
  });

  it("reject arrays that are too short", () => {
    expect(() => stepNorms(new Float32Array(5), 2, 1, 3)).toThrow(ShapeError);
    expect(() => recurrentGradTermNorms(new Float32Array(6), new Float32Array(5), 2, 1, 3, 3)).toThrow(/hPrev has 5 values; expected at least 6/);
  });
});

describe("saturation helpers", () => {
  it("isSaturated counts f1' ≈ 0 per nonlinearity", () => {
    expect([0.96, -0.96, 0.94, 0].map((h) => isSaturated(h, "tanh"))).toEqual([true, true, false, false]);
    expect([0.99, 0.01, 0.5, 0.97].map((h) => isSaturated(h, "sigmoid"))).toEqual([true, true, false, false]);
    expect([0, 0.1, 2].map((h) => isSaturated(h, "relu"))).toEqual([true, false, false]);
  });

  it("saturationShares splits one block's low and high ends", () => {
    // 2 rows of W = 4, the block is columns 1..2
    const acts = new Float32Array([0.5, 0.05, 0.95, 0.5, /**/ 0.5, 0.5, 0.99, 0.5]);
    expect(saturationShares(acts, 2, 4, 1, 2, "sigmoid", GATE_SATURATION_THRESHOLD)).toEqual({ low: 0.25, high: 0.5 });
    expect(saturationShares(new Float32Array([-0.9, 0.85, 0, 0.1]), 1, 4, 0, 4, "tanh", GATE_SATURATION_THRESHOLD)).toEqual({ low: 0.25, high: 0.25 });
  });

  it("sequenceOverTime reads one sequence's steps", () => {
    const a = Float32Array.from({ length: 3 * 2 * 2 }, (_, i) => i); // T = 3, B = 2, H = 2
    expect(Array.from(sequenceOverTime(a, 3, 2, 2, 1))).toEqual([2, 3, 6, 7, 10, 11]);
    expect(() => sequenceOverTime(a, 3, 2, 2, 2)).toThrowError(/sequence must be an integer in \[0, 2\); received 2/);
  });
});
