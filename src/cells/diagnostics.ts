/**
 * Diagnostics of backpropagation through time, read from the engine's buffers after one chunk
 * (what the playground plots). Pure functions over arrays, in float64; they allocate only their
 * (small) results.
 *
 * Dims: T steps, B sequences, H hidden units. Buffers are time-major as in nn/rnn.ts:
 *   hs  (T+1, B, H)  slot 0 = h_0, slot t = h_t
 *   dhs (T, B, H)    after backward, slot t−1 = dh̄_t = ∂E/∂h̄_t (B4)
 *
 * What is measured, for each t = 1..T (docs/derivation.md):
 *   ‖dh̄_t‖                       the error signal at step t after travelling back from every later
 *                                  step through B3–B4: it shrinks (vanishes) or grows (explodes) with T − t
 *   ‖Σ_b dh̄_{t,b} h_{t−1,b}ᵀ‖_F   step t's term of B5  dW_h = Σ_t dh̄_t h_{t−1}ᵀ: how much step t
 *                                  contributes to the recurrent weights' gradient
 *   saturation                     the share of units whose f1' is nearly 0, where B4 blocks the signal
 * Norms over a (B, H) block are Frobenius norms: sqrt of the sum over sequences and units.
 */
import type { Nonlinearity } from "./config.ts";
import type { LmBuffers } from "./lm.ts";
import { ShapeError } from "../errors.ts";

/** A unit counts as saturated when |h| > 0.95 (tanh), |2h − 1| > 0.95 (sigmoid), or h = 0 (relu). */
export const SATURATION_THRESHOLD = 0.95;

/** What `chunkDiagnostics` reports for one layer. */
export interface LayerDiagnostics {
  /** (T): ‖dh̄_t‖ over the batch, t = 1..T at index t−1. */
  readonly dhBarNorms: Float64Array;
  /** (T): ‖Σ_b dh̄_{t,b} h_{t−1,b}ᵀ‖_F, step t's term of ∂E/∂W_h, at index t−1. */
  readonly whContributions: Float64Array;
  /** Fraction of the values h_t (t = 1..T, all sequences and units) that are saturated, in [0, 1]. */
  readonly saturation: number;
}

/**
 * The norm of dh̄_t for every step.
 * @param dhs (T, B, H) dh̄ after backward
 * @returns (T) float64: index t−1 holds sqrt(Σ_{b,j} dh̄_t[b, j]²)
 * @throws ShapeError when dhs is shorter than T·B·H
 */
export function dhBarNorms(dhs: Float32Array | Float64Array, T: number, B: number, H: number): Float64Array {
  need("dhs", dhs, T * B * H);
  const out = new Float64Array(T);
  const n = B * H;
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = t * n; i < (t + 1) * n; i++) s += dhs[i] * dhs[i];
    out[t] = Math.sqrt(s);
  }
  return out;
}

/**
 * The Frobenius norm of each step's term of B5  dW_h = Σ_t C_t,  C_t = Σ_b dh̄_{t,b} h_{t−1,b}ᵀ (H, H).
 *
 * C_t is never formed: ‖C_t‖²_F = Σ_{b,b'} (dh̄_{t,b}·dh̄_{t,b'}) (h_{t−1,b}·h_{t−1,b'}), a product of two
 * B×B Gram matrices, which costs B²·H per step instead of B·H² (B ≪ H in practice).
 * @param dhs (T, B, H) dh̄ after backward
 * @param hs (T+1, B, H) activations, slot 0 = h_0
 * @returns (T) float64: index t−1 holds ‖C_t‖_F
 * @throws ShapeError when an array is too short
 */
export function whContributionNorms(
  dhs: Float32Array | Float64Array, hs: Float32Array | Float64Array, T: number, B: number, H: number,
): Float64Array {
  need("dhs", dhs, T * B * H);
  need("hs", hs, (T + 1) * B * H);
  const out = new Float64Array(T);
  const n = B * H;
  for (let t = 1; t <= T; t++) {
    const d = (t - 1) * n; // dh̄_t is slot t−1 of dhs
    const p = (t - 1) * n; // h_{t−1} is slot t−1 of hs
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c <= b; c++) {
        let dd = 0;
        let hh = 0;
        for (let j = 0; j < H; j++) {
          dd += dhs[d + b * H + j] * dhs[d + c * H + j];
          hh += hs[p + b * H + j] * hs[p + c * H + j];
        }
        s += (b === c ? 1 : 2) * dd * hh; // the Gram matrices are symmetric
      }
    }
    out[t - 1] = Math.sqrt(Math.max(s, 0));
  }
  return out;
}

/**
 * Whether one activation value is saturated, i.e. f1' is (nearly) 0 there and B4 blocks the gradient.
 * @param h an output of f1
 * @param f the nonlinearity that produced it
 * @returns tanh |h| > 0.95 (f1' < 0.0975), sigmoid |2h − 1| > 0.95, relu h = 0 (f1' = 0)
 */
export function isSaturated(h: number, f: Nonlinearity): boolean {
  switch (f) {
    case "tanh":
      return Math.abs(h) > SATURATION_THRESHOLD;
    case "sigmoid":
      return Math.abs(2 * h - 1) > SATURATION_THRESHOLD;
    case "relu":
      return h === 0;
  }
}

/**
 * The fraction of saturated values among h_1..h_T (slot 0, h_0, is not counted: it is the carried state).
 * @param hs (T+1, B, H) activations
 * @param f the layer's nonlinearity
 * @returns a fraction in [0, 1]; 0 for T = 0
 */
export function saturationRate(hs: Float32Array | Float64Array, T: number, B: number, H: number, f: Nonlinearity): number {
  need("hs", hs, (T + 1) * B * H);
  const n = B * H;
  let saturated = 0;
  for (let i = n; i < (T + 1) * n; i++) if (isSaturated(hs[i], f)) saturated++;
  return T * n === 0 ? 0 : saturated / (T * n);
}

/**
 * One unit's activation over time, for one sequence.
 * @param hs (T+1, B, H) activations
 * @param b the sequence
 * @param unit the hidden unit
 * @returns (T): h_t[unit] for t = 1..T at index t−1
 * @throws ShapeError for b or unit out of range, or hs too short
 */
export function unitActivations(hs: Float32Array | Float64Array, T: number, B: number, H: number, b: number, unit: number): Float32Array {
  need("hs", hs, (T + 1) * B * H);
  if (!(Number.isInteger(b) && b >= 0 && b < B)) throw new ShapeError(`sequence must be an integer in [0, ${B}); received ${b}`);
  if (!(Number.isInteger(unit) && unit >= 0 && unit < H)) throw new ShapeError(`unit must be an integer in [0, ${H}); received ${unit}`);
  const out = new Float32Array(T);
  for (let t = 1; t <= T; t++) out[t - 1] = hs[(t * B + b) * H + unit];
  return out;
}

/**
 * All diagnostics of the chunk the engine last ran forward and backward over, per layer.
 * @param buffers the engine's buffers after lossAndGrads (`LmEngine.activations`)
 * @param hiddenSize H
 * @param f the nonlinearity
 * @returns one entry per layer, bottom first
 */
export function chunkDiagnostics(buffers: LmBuffers, hiddenSize: number, f: Nonlinearity): LayerDiagnostics[] {
  const { T, B } = buffers;
  const H = hiddenSize;
  return buffers.layers.map((layer) => ({
    dhBarNorms: dhBarNorms(layer.dhs, T, B, H),
    whContributions: whContributionNorms(layer.dhs, layer.hs, T, B, H),
    saturation: saturationRate(layer.hs, T, B, H, f),
  }));
}

function need(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length < n) throw new ShapeError(`${name} has ${a.length} values; expected at least ${n}`);
}
