import { describe, expect, it } from "vitest";
import { ShapeError } from "../errors.ts";
import { portableKernels } from "../kernels/portable.ts";
import { randomProblem } from "../reference/gradcheck.ts";
import { referenceBackward, referenceForward } from "../reference/rnn-lm.ts";
import { normwiseRelError } from "../reference/gradcheck.ts";
import { NONLINEARITIES, type ModelConfig, type Nonlinearity } from "./config.ts";
import {
  chunkDiagnostics, dhBarNorms, isSaturated, saturationRate, unitActivations, whContributionNorms,
} from "./diagnostics.ts";
import { LmEngine } from "./lm.ts";
import { paramViews } from "./params.ts";

const TOLERANCE = 1e-4; // float32 engine against the float64 reference

/** One chunk through the fast engine and the float64 reference, on the same float32 values. */
function run(nonlinearity: Nonlinearity, layers: number, T: number, B: number) {
  const config: ModelConfig = { cell: "rnn", nonlinearity, bias: true, layers, hiddenSize: 6, vocabSize: 5 };
  const problem = randomProblem(config, T, B, 99);
  const params32 = Float32Array.from(problem.params);
  const h032 = Float32Array.from(problem.h0);
  const engine = new LmEngine(config, portableKernels);
  engine.lossAndGrads(params32, new Float32Array(params32.length), problem.batch, h032);
  const buffers = engine.activations;
  if (buffers === undefined) throw new Error("no buffers after lossAndGrads");
  const cache = referenceForward(config, Float64Array.from(params32), problem.batch, Float64Array.from(h032));
  const ref = referenceBackward(cache);
  return { config, params32, buffers, cache, ref, H: config.hiddenSize };
}

/** C_t = Σ_b dh̄_{t,b} h_{t−1,b}ᵀ formed explicitly in float64, (H, H) row-major. */
function contribution(dhs: Float32Array, hs: Float32Array, t: number, B: number, H: number): Float64Array {
  const c = new Float64Array(H * H);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) c[i * H + j] += dhs[((t - 1) * B + b) * H + i] * hs[((t - 1) * B + b) * H + j];
    }
  }
  return c;
}

describe("the engine's buffers hold what the diagnostics read", () => {
  for (const f of NONLINEARITIES) {
    for (const L of [1, 2]) {
      it(`${f} L=${L}: hs = h_t of the reference, and dhs is dh̄_t (B5 and B6 rebuilt from it)`, () => {
        const T = 4;
        const B = 3;
        const { config, params32, buffers, cache, ref, H } = run(f, L, T, B);
        const P = paramViews(config, params32);
        const G = paramViews(config, ref.grads);
        for (let l = 0; l < L; l++) {
          const { hs, dhs } = buffers.layers[l];
          expect(normwiseRelError(hs, cache.h[l]), `hs layer ${l}`).toBeLessThan(TOLERANCE);
          // B5  dW_h = Σ_t C_t
          const dWh = new Float64Array(H * H);
          for (let t = 1; t <= T; t++) contribution(dhs, hs, t, B, H).forEach((v, i) => (dWh[i] += v));
          expect(normwiseRelError(dWh, G.layers[l].Wh), `dW_h layer ${l}`).toBeLessThan(TOLERANCE);
          // B5  db_h = Σ_{t,b} dh̄_t
          const dbh = new Float64Array(H);
          for (let i = 0; i < T * B * H; i++) dbh[i % H] += dhs[i];
          expect(normwiseRelError(dbh, G.layers[l].bhh as Float64Array), `db_h layer ${l}`).toBeLessThan(TOLERANCE);
          // B6  dh_0 = W_hᵀ dh̄_1
          const dh0 = new Float64Array(B * H);
          for (let b = 0; b < B; b++) {
            for (let j = 0; j < H; j++) {
              for (let i = 0; i < H; i++) dh0[b * H + j] += P.layers[l].Wh[i * H + j] * dhs[b * H + i];
            }
          }
          expect(normwiseRelError(dh0, ref.dh0.subarray(l * B * H, (l + 1) * B * H)), `dh_0 layer ${l}`).toBeLessThan(TOLERANCE);
        }
      });
    }
  }
});

describe("dhBarNorms and whContributionNorms", () => {
  it("equal plain float64 norms, the contributions without the Gram-matrix shortcut", () => {
    const T = 5;
    const B = 4;
    const { buffers, H } = run("tanh", 2, T, B);
    for (const layer of buffers.layers) {
      const norms = dhBarNorms(layer.dhs, T, B, H);
      const contributions = whContributionNorms(layer.dhs, layer.hs, T, B, H);
      expect(norms.length).toBe(T);
      expect(contributions.length).toBe(T);
      for (let t = 1; t <= T; t++) {
        let s = 0;
        for (let i = (t - 1) * B * H; i < t * B * H; i++) s += layer.dhs[i] ** 2;
        expect(norms[t - 1]).toBeCloseTo(Math.sqrt(s), 12);
        const c = contribution(layer.dhs, layer.hs, t, B, H);
        const frobenius = Math.sqrt(c.reduce((a, v) => a + v * v, 0));
        expect(Math.abs(contributions[t - 1] - frobenius)).toBeLessThanOrEqual(1e-12 * Math.max(frobenius, 1e-30));
      }
    }
  });

  it("are zero where the gradient is zero, and T = 1 works", () => {
    const dhs = new Float32Array(2 * 3);
    const hs = new Float32Array(2 * 2 * 3).fill(0.5);
    expect(Array.from(dhBarNorms(dhs, 1, 2, 3))).toEqual([0]);
    expect(Array.from(whContributionNorms(dhs, hs, 1, 2, 3))).toEqual([0]);
    dhs[0] = 3;
    dhs[4] = 4; // sequence 1, unit 1
    expect(dhBarNorms(dhs, 1, 2, 3)[0]).toBeCloseTo(5, 12);
    // C_1 = [3,0,0]ᵀ[.5,.5,.5] + [0,4,0]ᵀ[.5,.5,.5]: rows 3/2·1 and 4/2·1, ‖·‖_F = √(3·(1.5² + 2²)) = √18.75
    expect(whContributionNorms(dhs, hs, 1, 2, 3)[0]).toBeCloseTo(Math.sqrt(18.75), 6);
  });

  it("reject arrays that are too short", () => {
    expect(() => dhBarNorms(new Float32Array(5), 2, 1, 3)).toThrow(ShapeError);
    expect(() => whContributionNorms(new Float32Array(6), new Float32Array(6), 2, 1, 3)).toThrow(/hs has 6 values; expected at least 9/);
  });
});

describe("saturation", () => {
  it("counts f1' ≈ 0 per nonlinearity", () => {
    expect([0.96, -0.96, 0.94, 0].map((h) => isSaturated(h, "tanh"))).toEqual([true, true, false, false]);
    expect([0.99, 0.01, 0.5, 0.97].map((h) => isSaturated(h, "sigmoid"))).toEqual([true, true, false, false]);
    expect([0, 0.1, 2].map((h) => isSaturated(h, "relu"))).toEqual([true, false, false]);
  });

  it("skips h_0 and agrees with a count over the reference's h_t", () => {
    for (const f of NONLINEARITIES) {
      const T = 6;
      const B = 2;
      const { buffers, cache, H } = run(f, 1, T, B);
      let count = 0;
      for (let i = B * H; i < (T + 1) * B * H; i++) if (isSaturated(cache.h[0][i], f)) count++;
      expect(saturationRate(buffers.layers[0].hs, T, B, H, f)).toBeCloseTo(count / (T * B * H), 1);
    }
    const hs = new Float32Array([1, 1, 0.99, 0, 0.1, -0.999]); // T = 2, B = 1, H = 2; slot 0 ignored
    expect(saturationRate(hs, 2, 1, 2, "tanh")).toBe(0.5);
  });
});

describe("unitActivations and chunkDiagnostics", () => {
  it("read one unit over time, and every layer of a chunk", () => {
    const T = 3;
    const B = 2;
    const { buffers, cache, H } = run("tanh", 2, T, B);
    const trace = unitActivations(buffers.layers[1].hs, T, B, H, 1, 4);
    for (let t = 1; t <= T; t++) expect(trace[t - 1]).toBeCloseTo(cache.h[1][(t * B + 1) * H + 4], 5);
    expect(() => unitActivations(buffers.layers[1].hs, T, B, H, 0, H)).toThrow(/unit must be an integer in \[0, 6\); received 6/);
    const d = chunkDiagnostics(buffers, H, "tanh");
    expect(d.length).toBe(2);
    for (const [l, layer] of d.entries()) {
      expect(Array.from(layer.dhBarNorms)).toEqual(Array.from(dhBarNorms(buffers.layers[l].dhs, T, B, H)));
      expect(layer.whContributions.every((v) => v > 0)).toBe(true);
      expect(layer.saturation).toBeGreaterThanOrEqual(0);
    }
  });
});
