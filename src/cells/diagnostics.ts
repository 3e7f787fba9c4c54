/**
 * Diagnostics of backpropagation through time, read from a layer's buffers after one chunk (what
 * the playground plots), shared by the cells' views. Pure functions over arrays, in float64; they
 * allocate only their (small) results.
 *
 * Dims: T steps, B sequences, H hidden units, W the width of a per-step row (H, or G·H for a
 * cell's G gate blocks). Buffers are time-major: step t of all sequences is one (B, W) block.
 *
 * What is measured, for each t = 1..T (docs/derivation.md):
 *   ‖da_t‖                        the error signal at the pre-activations of step t after travelling
 *                                 back from every later step (dh̄_t of B4 for the simple RNN, da_t of
 *                                 L7 / G8 for the gated cells): it shrinks (vanishes) or grows
 *                                 (explodes) with T − t
 *   ‖Σ_b da_{t,b} h_{t−1,b}ᵀ‖_F   step t's term of dW_hh = Σ_t da_t h_{t−1}ᵀ (B5, L8, G9): how much
 *                                 step t contributes to the recurrent weights' gradient
 *   saturation                    the share of activations near the flat ends of σ, tanh (or relu's 0),
 *                                 where the derivative is nearly 0 and blocks the signal
 * Norms over a (B, ·) block are Frobenius norms: sqrt of the sum over sequences and units.
 */
import { ShapeError } from "../errors.ts";
import type { GateSaturation, GateTerm, Nonlinearity } from "./types.ts";

/**
 * The simple RNN's f1 output counts as saturated when |tanh| > 0.95 (f1' < 0.0975), |2σ − 1| > 0.95,
 * or relu = 0.
 */
export const SATURATION_THRESHOLD = 0.95;
/**
 * A gate counts as left (right) saturated when σ < 0.1 (σ > 0.9), as in Karpathy, Johnson & Fei-Fei,
 * "Visualizing and understanding recurrent networks" (2015); on the [−1, 1] scale of tanh, 2σ − 1,
 * that is beyond ±0.8, the threshold used for the tanh blocks (g, n) too.
 */
export const GATE_SATURATION_THRESHOLD = 0.8;

/**
 * The first words of a gated cell's saturation view (text with $KaTeX$ segments).
 * @param example what one of its gates does at its ends, e.g. "a forget gate at 1 keeps $c_{t-1}$, at 0 wipes it"
 * @returns the intro
 */
export function gatesSaturationIntro(example: string): string {
  return "Per gate, the share of its activations over the chunk (all steps, sequences and units) that sit at its low end " +
    "(left saturated) and at its high end (right saturated), over training: the view of Karpathy, Johnson & Fei-Fei, " +
    `“Visualizing and understanding recurrent networks” (2015). A gate at an end is a switch — ${example} — and passes ` +
    "almost no gradient to its own pre-activation ($\\sigma'$ or $\\tanh' \\approx 0$).";
}

/**
 * The Frobenius norm of every step's (B, W) block.
 * @param a (T, B, W) values, e.g. dh̄ after backward
 * @returns (T) float64: index t−1 holds sqrt(Σ_{b,j} a_t[b, j]²)
 * @throws ShapeError when a is shorter than T·B·W
 */
export function stepNorms(a: Float32Array | Float64Array, T: number, B: number, W: number): Float64Array {
  need("a", a, T * B * W);
  const out = new Float64Array(T);
  const n = B * W;
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = t * n; i < (t + 1) * n; i++) s += a[i] * a[i];
    out[t] = Math.sqrt(s);
  }
  return out;
}

/**
 * The Frobenius norm of each step's term of dW_hh = Σ_t C_t,  C_t = Σ_b da_{t,b} h_{t−1,b}ᵀ (W, H).
 *
 * C_t is never formed: ‖C_t‖²_F = Σ_{b,b'} (da_{t,b}·da_{t,b'}) (h_{t−1,b}·h_{t−1,b'}), a product of two
 * B×B Gram matrices, which costs B²·(W + H) per step instead of B·W·H (B ≪ H in practice).
 * @param da (T, B, W) gradient of the recurrent pre-activations after backward
 * @param hPrev (T, B, H) h_{t−1} for t = 1..T (slots 0..T−1 of the (T+1, B, H) states)
 * @returns (T) float64: index t−1 holds ‖C_t‖_F
 * @throws ShapeError when an array is too short
 */
export function recurrentGradTermNorms(
  da: Float32Array | Float64Array, hPrev: Float32Array | Float64Array, T: number, B: number, W: number, H: number,
): Float64Array {
  need("da", da, T * B * W);
  need("hPrev", hPrev, T * B * H);
  const out = new Float64Array(T);
  for (let t = 1; t <= T; t++) {
    const d = (t - 1) * B * W; // da_t is slot t−1
    const p = (t - 1) * B * H; // h_{t−1} is slot t−1
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c <= b; c++) {
        let dd = 0;
        let hh = 0;
        for (let j = 0; j < W; j++) dd += da[d + b * W + j] * da[d + c * W + j];
        for (let j = 0; j < H; j++) hh += hPrev[p + b * H + j] * hPrev[p + c * H + j];
        s += (b === c ? 1 : 2) * dd * hh; // the Gram matrices are symmetric
      }
    }
    out[t - 1] = Math.sqrt(Math.max(s, 0));
  }
  return out;
}

/**
 * Whether one output of the simple RNN's f1 is saturated, i.e. f1' is (nearly) 0 there and B4 blocks the gradient.
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
 * The shares of one block of activations near their low and high ends, over all steps and sequences.
 * @param acts (T·B, W) activations, rows of W values
 * @param rows T·B
 * @param W row width
 * @param from first column of the block (e.g. g·H for gate g)
 * @param width columns of the block (H)
 * @param f what produced them: "sigmoid" (ends 0 and 1), "tanh" (−1 and 1) or "relu" (low end: exactly 0)
 * @param threshold beyond ±threshold on the [−1, 1] scale (tanh, or 2σ − 1) counts as saturated
 * @returns {low, high} fractions in [0, 1]
 */
export function saturationShares(
  acts: Float32Array | Float64Array, rows: number, W: number, from: number, width: number, f: Nonlinearity, threshold: number,
): { low: number; high: number } {
  need("acts", acts, rows * W);
  let low = 0;
  let high = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = from; j < from + width; j++) {
      const a = acts[r * W + j];
      if (f === "relu") {
        if (a === 0) low++;
      } else {
        const s = f === "sigmoid" ? 2 * a - 1 : a; // on [−1, 1]
        if (s < -threshold) low++;
        else if (s > threshold) high++;
      }
    }
  }
  const n = rows * width;
  return n === 0 ? { low: 0, high: 0 } : { low: low / n, high: high / n };
}

/**
 * Every gate's saturation shares over a chunk of gated activations.
 * @param gates (rows, G·H) activations, G blocks of H per row
 * @param rows T·B
 * @param H hidden units
 * @param kinds per block, its gate's name and what produced it (σ or tanh), in row-block order
 * @returns one entry per gate, with the GATE_SATURATION_THRESHOLD ends
 */
export function gateSaturation(
  gates: Float32Array, rows: number, H: number, kinds: readonly Pick<GateTerm, "gate" | "kind">[],
): GateSaturation[] {
  return kinds.map(({ gate, kind }, q) => ({ gate, ...saturationShares(gates, rows, kinds.length * H, q * H, H, kind, GATE_SATURATION_THRESHOLD) }));
}

/**
 * Copy step t's (B, H) blocks for one sequence out of a time-major (T, B, H) array.
 * @param a (T, B, H) values
 * @param b the sequence
 * @returns (T·H) values: step t's H values at (t−1)·H
 * @throws ShapeError for b out of range, or a too short
 */
export function sequenceOverTime(a: Float32Array, T: number, B: number, H: number, b: number): Float32Array {
  need("a", a, T * B * H);
  if (!(Number.isInteger(b) && b >= 0 && b < B)) throw new ShapeError(`sequence must be an integer in [0, ${B}); received ${b}`);
  const out = new Float32Array(T * H);
  for (let t = 0; t < T; t++) out.set(a.subarray((t * B + b) * H, (t * B + b + 1) * H), t * H);
  return out;
}

function need(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length < n) throw new ShapeError(`${name} has ${a.length} values; expected at least ${n}`);
}
