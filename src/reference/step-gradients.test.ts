/**
 * The error of one step's loss travelling back (`referenceStepGradients`) against central
 * differences of E_t in float64, for every cell, one and two layers, t ∈ {1, T/2, T}. h_k of a
 * layer reaches E_t along two paths, and the series holds their sum (B3):
 *   - through time: the derivative of E_t of the chunk restarted after step k from the state
 *     there, layer l's h_k perturbed (the other state tensors, and the other layers' states, held);
 *   - up: through what the layer above (or the head) reads at step k, the derivative of E_t in a
 *     multiplicative mask m = 1 on that output (D1), which is (∂E_t/∂x̃_k) ⊙ h_k.
 * So the check is on (series ⊙ h_k) = (through time) ⊙ h_k + (up), k = 1..t; at k = 0 only the
 * path through time exists. And two sums that must hold exactly: Σ_t E_t = E, and
 * Σ_t ∂E_t/∂h_0 = ∂E/∂h_0 of referenceBackward.
 */
import { describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf } from "../cells/index.ts";
import { ShapeError } from "../errors.ts";
import type { ModelConfig } from "../model/config.ts";
import { stateCount, stateLength } from "../model/params.ts";
import { normwiseRelError, randomProblem } from "./gradcheck.ts";
import { referenceBackward, referenceForward, referenceStepGradients, stepSliceNorms, type ReferenceCache, type StepGradients } from "./lm.ts";
import type { LstmStep } from "../cells/lstm/reference.ts";

/** One layer's series of one state tensor. */
function series(g: StepGradients, l: number, state: string): Float64Array {
  const a = g.layers[l]?.[state];
  if (a === undefined) throw new Error(`no ${state} series for layer ${l}`);
  return a;
}

const T = 6, B = 2, H = 4, V = 5;
const EPS = 1e-5;
// 1e-6 rather than gradcheck's 1e-7: far back from t the gradients have vanished to ~1e-3 of their size at t,
// while the differences' rounding error (~1e-16 / ε in E_t) stays where it was
const TOLERANCE = 1e-6;

/** E_t of a forward pass: Σ_b −log y_t[k_t]. */
function stepLoss(cache: ReferenceCache, t: number): number {
  let s = 0;
  for (let b = 0; b < cache.batch.B; b++) s += cache.losses[(t - 1) * cache.batch.B + b];
  return s;
}

/** Every layer's state after step k (S, L, B, H), from the cache (k = 0: the initial state). */
function stateAfter(cache: ReferenceCache, k: number): Float64Array {
  const { config } = cache;
  const L = config.layers;
  const out = new Float64Array(stateLength(config, B));
  if (k === 0) return Float64Array.from(cache.state0);
  for (let l = 0; l < L; l++) {
    for (let b = 0; b < B; b++) cache.steps[l][b][k - 1].state.forEach((v, s) => out.set(v, ((s * L + l) * B + b) * H));
  }
  return out;
}

/**
 * Central differences of E_t in layer l's state through time: the chunk of steps k+1..T from the
 * state after step k (0 for k = t). `state` "h" perturbs h_k; "c" perturbs the LSTM's c_k and, for
 * k ≥ 1, h_k = o_k ⊙ tanh c_k with it (L4: the path through h_k to step k+1).
 */
function differencesInState(cache: ReferenceCache, t: number, k: number, l: number, state: "h" | "c" = "h"): Float64Array {
  const { config, params, batch } = cache;
  const L = config.layers;
  const out = new Float64Array(B * H);
  if (k === t) return out; // E_t does not depend on the steps after t
  const sub = { inputs: batch.inputs.slice(k * B), targets: batch.targets.slice(k * B), T: T - k, B };
  const base = stateAfter(cache, k);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const hAt = ((0 * L + l) * B + b) * H + j; // state 0 = h
      const cAt = ((1 * L + l) * B + b) * H + j; // state 1 = c
      const o = k >= 1 && state === "c" ? (cache.steps[l][b][k - 1] as LstmStep).gates[3 * H + j] : 0;
      const loss = (d: number): number => {
        const s0 = Float64Array.from(base);
        if (state === "h") s0[hAt] += d;
        else {
          s0[cAt] += d;
          if (k >= 1) s0[hAt] = o * Math.tanh(s0[cAt]); // L4
        }
        return stepLoss(referenceForward(config, params, sub, s0), t - k);
      };
      out[b * H + j] = (loss(EPS) - loss(-EPS)) / (2 * EPS);
    }
  }
  return out;
}

/** Central differences of E_t in a mask m = 1 on layer l's output at step k ≥ 1: (∂E_t/∂x̃_k) ⊙ h_k, the path up. */
function differencesInMask(cache: ReferenceCache, t: number, k: number, l: number): Float64Array {
  const { config, params, batch, state0 } = cache;
  const out = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const loss = (d: number): number => {
        const m = new Float64Array(T * B * H).fill(1);
        m[((k - 1) * B + b) * H + j] += d;
        const masks = Array.from({ length: config.layers }, (_, i) => (i === l ? m : undefined));
        return stepLoss(referenceForward(config, params, batch, state0, masks), t);
      };
      out[b * H + j] = (loss(EPS) - loss(-EPS)) / (2 * EPS);
    }
  }
  return out;
}

describe("referenceStepGradients: the error of one step's loss, back through time", () => {
  for (const cell of CELL_NAMES) {
    for (const layers of [1, 2]) {
      it(`${cellOf(cell).title}, ${layers} layer(s): ∂E_t/∂h_k equals central differences of E_t for t ∈ {1, ${T / 2}, ${T}} and every k ≤ t`, () => {
        const config: ModelConfig = { cell, nonlinearity: "tanh", layers, hiddenSize: H, vocabSize: V, bias: true };
        const problem = randomProblem(config, T, B, 17 + layers);
        const cache = referenceForward(config, problem.params, problem.batch, problem.state0);
        for (const t of [1, T / 2, T]) {
          const got = referenceStepGradients(cache, t);
          expect(got.step).toBe(t);
          expect(got.loss).toBe(stepLoss(cache, t));
          for (let l = 0; l < layers; l++) {
            const dh = series(got, l, "h");
            expect(dh.length).toBe((t + 1) * B * H);
            expect(Object.keys(got.layers[l] ?? {})).toEqual(cellOf(cell).stateNames);
            // k = 0: the initial state, read by step 1 only
            const err0 = normwiseRelError(dh.subarray(0, B * H), differencesInState(cache, t, 0, l));
            expect(err0, `t ${t}, layer ${l + 1}, k 0`).toBeLessThan(TOLERANCE);
            for (let k = 1; k <= t; k++) {
              const hk = cache.h[l].subarray(k * B * H, (k + 1) * B * H);
              const times = dh.subarray(k * B * H, (k + 1) * B * H).map((g, i) => g * hk[i]);
              const time = differencesInState(cache, t, k, l);
              const up = differencesInMask(cache, t, k, l);
              const want = up.map((u, i) => u + time[i] * hk[i]);
              expect(normwiseRelError(times, want), `t ${t}, layer ${l + 1}, k ${k}`).toBeLessThan(TOLERANCE);
            }
          }
        }
      });
    }
  }

  for (const layers of [1, 2]) {
    it(`LSTM, ${layers} layer(s): the total ∂E_t/∂c_k (through step k+1, and through h_k = o_k ⊙ tanh c_k) equals central differences`, () => {
      const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", layers, hiddenSize: H, vocabSize: V, bias: true };
      const problem = randomProblem(config, T, B, 29 + layers);
      const cache = referenceForward(config, problem.params, problem.batch, problem.state0);
      for (const t of [1, T / 2, T]) {
        const got = referenceStepGradients(cache, t);
        for (let l = 0; l < layers; l++) {
          const dc = series(got, l, "c");
          // k = 0: c_0 is an initial state of its own (h_0 is not made from it)
          expect(normwiseRelError(dc.subarray(0, B * H), differencesInState(cache, t, 0, l, "c")), `t ${t}, layer ${l + 1}, k 0`).toBeLessThan(TOLERANCE);
          for (let k = 1; k <= t; k++) {
            const hk = cache.h[l].subarray(k * B * H, (k + 1) * B * H);
            const time = differencesInState(cache, t, k, l, "c");
            const up = differencesInMask(cache, t, k, l); // (∂E_t/∂x̃_k) ⊙ h_k
            const want = new Float64Array(B * H);
            for (let b = 0; b < B; b++) {
              const { gates, tanhC } = cache.steps[l][b][k - 1] as LstmStep;
              for (let j = 0; j < H; j++) {
                const i = b * H + j;
                // ∂h_k/∂c_k = o_k ⊙ (1 − tanh² c_k) (L4)
                want[i] = time[i] * hk[i] + up[i] * gates[3 * H + j] * (1 - tanhC[j] * tanhC[j]);
              }
            }
            const times = dc.subarray(k * B * H, (k + 1) * B * H).map((g, i) => g * hk[i]);
            expect(normwiseRelError(times, want), `t ${t}, layer ${l + 1}, k ${k}`).toBeLessThan(TOLERANCE);
          }
        }
      }
    });
  }

  it("sums to the whole: Σ_t E_t = E and Σ_t ∂E_t/∂h_0 = ∂E/∂h_0; the norms are the slices' Frobenius norms", () => {
    const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", layers: 2, hiddenSize: H, vocabSize: V, bias: true };
    const problem = randomProblem(config, T, B, 5);
    const cache = referenceForward(config, problem.params, problem.batch, problem.state0);
    const { dState0 } = referenceBackward(cache);
    let loss = 0;
    const dh0 = Array.from({ length: 2 }, () => new Float64Array(B * H));
    for (let t = 1; t <= T; t++) {
      const g = referenceStepGradients(cache, t);
      loss += g.loss;
      for (let l = 0; l < 2; l++) series(g, l, "h").subarray(0, B * H).forEach((v, i) => (dh0[l][i] += v));
      const norms = stepSliceNorms(series(g, 0, "h"), B, H);
      expect(norms.length).toBe(t + 1);
      expect(norms[t]).toBeCloseTo(Math.hypot(...series(g, 0, "h").subarray(t * B * H)), 12);
    }
    expect(loss).toBeCloseTo(cache.loss, 10);
    expect(stateCount(config)).toBe(2);
    for (let l = 0; l < 2; l++) {
      const want = dState0.subarray(l * B * H, (l + 1) * B * H); // state 0 = h, layer l
      expect(normwiseRelError(dh0[l], want)).toBeLessThan(1e-12);
    }
  });

  it("refuses a step outside 1..T", () => {
    const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: H, vocabSize: V, bias: true };
    const problem = randomProblem(config, T, B, 1);
    const cache = referenceForward(config, problem.params, problem.batch, problem.state0);
    for (const t of [0, T + 1, 2.5]) expect(() => referenceStepGradients(cache, t)).toThrow(ShapeError);
    expect(() => referenceStepGradients(cache, 0)).toThrow(`the step must be an integer in [1, ${T}]; received 0`);
  });
});
