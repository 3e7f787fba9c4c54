/**
 * Finite-difference gradient check of the float64 reference (docs/architecture.md, The oracle): every element of every
 * parameter tensor and of the initial state (h0, and c0 for the LSTM) is perturbed by ±ε, and the
 * central difference
 *     n = (E(θ + ε e_i) − E(θ − ε e_i)) / 2ε
 * is compared with the analytic ∂E/∂θ_i of referenceLossAndGrads (B1–B6, L5–L9, G5–G10).
 *
 * Choice of ε: the error of n is truncation ε²·|E'''|/6 plus rounding ≈ u·|E|/ε (u = 2⁻⁵³).
 * The rounding term is cut by differencing the per-step losses e_tb before summing them
 * (E(+) − E(−) = Σ (e_tb(+) − e_tb(−))): the running sum E, up to ~70 in the tests, no longer
 * rounds differently in the two runs, only the e_tb ~ 1 do. Measured worst normwise relative
 * error over the 72 configurations of test/gradcheck.test.ts (V=4, H=5, T ≤ 17, B ≤ 3):
 *     ε          1e-4    5e-5    2e-5    1e-5    5e-6    1e-6    1e-7
 *     tanh       4.8e-8  1.2e-8  2.0e-9  9.3e-10 1.5e-9  9.0e-9  7.4e-8
 *     relu       5.9e-8  1.5e-8  2.5e-9  3.8e-9  1.0e-8  4.8e-8  2.6e-7
 *     sigmoid    2.1e-9  1.5e-9  3.2e-9  8.9e-9  1.5e-8  7.9e-8  8.1e-7
 * so the default is 1e-5. Differencing E itself is ~6× worse (4.4e-8 against 7.0e-9 at 1e-5 on
 * the same sigmoid problems).
 *
 * ReLU: E is not differentiable where a pre-activation h̄ crosses 0, and a central difference
 * straddling such a kink is meaningless. Rather than guess from distances, the check compares the
 * activation pattern [h > 0] of the ±ε runs with that of the unperturbed run; an element whose
 * perturbation flips any unit at any step is left out of the errors and counted in `skipped`.
 * It is rare but real: in 300 random relu problems (L=2, T=17, B=3, ε = 1e-5) 5 had kinks
 * (59 of 50 700 elements); without the skip, their normwise errors were up to 2.6e-2.
 * Relative errors also grow where a gradient is tiny, e.g. a nearly dead ReLU network: in one of
 * those 300 problems h0's gradient had norm ~5e-5, and absolute errors of 1e-11 gave 1.8e-7.
 */
import { ConfigError, ShapeError } from "../errors.ts";
import { batchLayouts, dataLength, type BatchData, type DataLayout, type ModelBatch } from "../model/batch.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { paramCount, paramSpecs, stateLength } from "../model/params.ts";
import { cellOf } from "../cells/index.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import { Rng } from "../rng.ts";
import { referenceForward, referenceLossAndGrads } from "./lm.ts";
import type { ReferenceCache } from "./lm.ts";

/** Default step of the central differences (see the header for the measurements behind it). */
export const GRADCHECK_EPSILON = 1e-5;

/** Options of `gradcheck`. */
export interface GradcheckOptions {
  /** Step ε of the central differences, > 0. Default GRADCHECK_EPSILON = 1e-5. */
  readonly epsilon?: number;
  /** Dropout masks per layer (T, B, H), held fixed while the parameters move (D1–D2); default none. */
  readonly masks?: readonly (Float64Array | undefined)[];
}

/** Agreement of analytic (a) and numerical (n) gradients for one tensor. */
export interface TensorCheck {
  /** paramSpecs name, e.g. "rnn.weight_hh_l0", or "h0" (and "c0" for the LSTM). */
  readonly name: string;
  /** Row-major shape; [L, B, H] for h0 and c0. */
  readonly shape: readonly number[];
  /** max_i |a_i − n_i|. */
  readonly maxAbsError: number;
  /** ‖a − n‖₂ / max(‖a‖₂, ‖n‖₂, 1e-300): the error of the tensor as a whole. */
  readonly normwiseRelError: number;
  /** max_i |a_i − n_i| / max(|a_i| + |n_i|, 1e-12), as in torch-rnn; large for tiny gradients. */
  readonly maxElementRelError: number;
  /** Elements left out because their ±ε run crossed a ReLU kink (always 0 for tanh and sigmoid). */
  readonly skipped: number;
}

/** Result of `gradcheck`. */
export interface GradcheckReport {
  /** The ε used. */
  readonly epsilon: number;
  /** E at the unperturbed point. */
  readonly loss: number;
  /** One entry per parameter tensor in paramSpecs order, then "h0" (and "c0"). */
  readonly tensors: readonly TensorCheck[];
  /** Largest normwiseRelError over all tensors. */
  readonly maxNormwiseRelError: number;
  /** Total elements skipped at ReLU kinks. */
  readonly skipped: number;
}

/**
 * Compare the reference's analytic gradients with central differences, element by element.
 * Costs 2 forward passes per parameter and per element of h0: meant for tiny models.
 * @param config model shape
 * @param params flat float64 parameters (not modified)
 * @param batch B sequences of T steps
 * @param state0 initial state (S, L, B, H) (not modified)
 * @param options step ε
 * @returns errors per tensor and overall
 */
export function gradcheck(
  config: ModelConfig,
  params: Float64Array,
  batch: ModelBatch,
  state0: Float64Array,
  options: GradcheckOptions = {},
): GradcheckReport {
  const eps = options.epsilon ?? GRADCHECK_EPSILON;
  if (!(eps > 0 && Number.isFinite(eps))) throw new ConfigError(`epsilon must be a finite number > 0; received ${eps}`);
  const masks = options.masks ?? [];
  const analytic = referenceLossAndGrads(config, params, batch, state0, masks);
  // Perturb copies, so the caller's arrays are never touched.
  const theta = Float64Array.from(params);
  const state = Float64Array.from(state0);
  const base = referenceForward(config, theta, batch, state, masks);
  const watchKinks = config.nonlinearity === "relu";

  /** Central difference of E along element i of x (θ or the state), or undefined across a ReLU kink. */
  const numeric = (x: Float64Array, i: number): number | undefined => {
    const saved = x[i];
    x[i] = saved + eps;
    const up = x[i];
    const plus = referenceForward(config, theta, batch, state, masks);
    x[i] = saved - eps;
    const down = x[i];
    const minus = referenceForward(config, theta, batch, state, masks);
    x[i] = saved;
    if (watchKinks && !(samePattern(base, plus) && samePattern(base, minus))) return undefined;
    // E(+) − E(−) as Σ_{t,b} (e_tb(+) − e_tb(−)): the differences of the per-step losses are
    // nearly exact, whereas the rounding of the running sum E (~u·|E| per run) would not cancel.
    let diff = 0;
    for (let r = 0; r < plus.losses.length; r++) diff += plus.losses[r] - minus.losses[r];
    // Divide by the step actually taken (saved ± ε is rounded), not by 2ε.
    return diff / (up - down);
  };

  const tensors: TensorCheck[] = [];
  for (const s of paramSpecs(config)) {
    const a = analytic.grads.subarray(s.offset, s.offset + s.size);
    tensors.push(compare(s.name, s.shape, a, (i) => numeric(theta, s.offset + i)));
  }
  const part = config.layers * batch.B * config.hiddenSize; // one state tensor's (L, B, H)
  cellOf(config.cell).stateNames.forEach((name, s) => {
    tensors.push(compare(`${name}0`, [config.layers, batch.B, config.hiddenSize], analytic.dState0.subarray(s * part, (s + 1) * part), (i) => numeric(state, s * part + i)));
  });

  return {
    epsilon: eps,
    loss: analytic.loss,
    tensors,
    maxNormwiseRelError: Math.max(...tensors.map((c) => c.normwiseRelError)),
    skipped: tensors.reduce((n, c) => n + c.skipped, 0),
  };
}

/** A small random problem for gradcheck: the same one for the CLI and the tests. */
export interface GradcheckProblem {
  readonly config: ModelConfig;
  /** U(−scale, scale) parameters in the paramSpecs layout. */
  readonly params: Float64Array;
  /** Random inputs and targets, as the model's input and head draw them (one-hot, softmax: uniform random tokens). */
  readonly batch: ModelBatch;
  /** U(−scale, scale) initial state (S, L, B, H), nonzero so that B6 (L9, G10) is exercised. */
  readonly state0: Float64Array;
}

/** Options of `randomProblem`. */
export interface RandomProblemOptions {
  /** Half-width of the uniform parameters and h0. Default 0.5: large enough that tanh is far from linear. */
  readonly scale?: number;
}

/**
 * Build a seeded random problem: parameters, a random batch (of uniform random tokens for one-hot
 * input and the softmax head: the units' `randomValue`) and an initial state.
 * @param config model shape
 * @param T time steps ≥ 1
 * @param B sequences ≥ 1
 * @param seed RNG seed; the same seed gives the same problem
 * @param options scale of the random values
 * @returns config, params, batch and state0
 */
export function randomProblem(
  config: ModelConfig,
  T: number,
  B: number,
  seed: number,
  options: RandomProblemOptions = {},
): GradcheckProblem {
  const scale = options.scale ?? 0.5;
  const rng = new Rng(seed);
  const params = new Float64Array(paramCount(config));
  initParams(params, config, rng, { scale });
  const layouts = batchLayouts(config);
  const inputs = batchArray(layouts.inputs, T, B);
  const targets = batchArray(layouts.targets, T, B);
  // an input and a target in turn, while both last (the order of the draws is part of what a seed gives)
  for (let i = 0; i < Math.max(inputs.length, targets.length); i++) {
    if (i < inputs.length) inputs[i] = inputOf(config).randomValue(config, rng);
    if (i < targets.length) targets[i] = headOf(config).randomValue(config, rng);
  }
  const state0 = new Float64Array(stateLength(config, B));
  for (let i = 0; i < state0.length; i++) state0[i] = rng.uniform(-scale, scale);
  return { config, params, batch: { inputs, targets, T, B }, state0 };
}

/** A zeroed array for a batch's part. */
function batchArray(layout: DataLayout, T: number, B: number): BatchData {
  const n = dataLength(layout, T, B);
  return layout.type === "int32" ? new Int32Array(n) : new Float32Array(n);
}

/** Errors of one tensor; elements whose numerical derivative is undefined are skipped. */
function compare(
  name: string,
  shape: readonly number[],
  a: Float64Array,
  numericAt: (i: number) => number | undefined,
): TensorCheck {
  let maxAbsError = 0;
  let maxElementRelError = 0;
  let diff2 = 0;
  let a2 = 0;
  let n2 = 0;
  let skipped = 0;
  for (let i = 0; i < a.length; i++) {
    const n = numericAt(i);
    if (n === undefined) {
      skipped++;
      continue;
    }
    const ai = a[i];
    const d = Math.abs(ai - n);
    maxAbsError = Math.max(maxAbsError, d);
    maxElementRelError = Math.max(maxElementRelError, d / Math.max(Math.abs(ai) + Math.abs(n), 1e-12));
    diff2 += d * d;
    a2 += ai * ai;
    n2 += n * n;
  }
  const normwiseRelError = Math.sqrt(diff2) / Math.max(Math.sqrt(a2), Math.sqrt(n2), 1e-300);
  return { name, shape, maxAbsError, normwiseRelError, maxElementRelError, skipped };
}

/** True when every ReLU unit has the same on/off state [h > 0] at every step in both runs. */
function samePattern(p: ReferenceCache, q: ReferenceCache): boolean {
  const stateSize = p.batch.B * p.config.hiddenSize;
  for (let k = 0; k < p.h.length; k++) {
    const hp = p.h[k];
    const hq = q.h[k];
    // slot 0 holds h_0, an input that no ReLU produced: start at slot 1
    for (let i = stateSize; i < hp.length; i++) if ((hp[i] > 0) !== (hq[i] > 0)) return false;
  }
  return true;
}

/**
 * ‖a − b‖₂ / max(‖a‖₂, ‖b‖₂, 1e-300): the error of one array as a whole against another.
 * @param a values (e.g. the fast engine's gradient)
 * @param b reference values, same length
 * @returns the normwise relative error (0 when both are zero)
 */
export function normwiseRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new ShapeError(`cannot compare arrays of ${a.length} and ${b.length} values`);
  let d2 = 0, a2 = 0, b2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    d2 += d * d;
    a2 += a[i] * a[i];
    b2 += b[i] * b[i];
  }
  return Math.sqrt(d2) / Math.max(Math.sqrt(a2), Math.sqrt(b2), 1e-300);
}
