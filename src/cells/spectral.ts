/**
 * The largest singular value σ_max of a recurrent matrix W_hh, for the vanishing-gradient view:
 * the Jacobian of one step of the simple RNN is ∂h_j/∂h_{j−1} = diag(f1′(h̄_j)) W_h
 * (docs/derivation.md §2.11), so ‖∂h_t/∂h_k‖ ≤ (γ σ_max)^{t−k} with γ a bound of f1′
 * (Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks", 2013):
 * below σ_max = 1/γ the error of one step must vanish as it travels back.
 *
 * Power iteration on WᵀW in float64: v ← WᵀW v / ‖WᵀW v‖, σ = ‖W v‖ (with ‖v‖ = 1). Written by
 * hand: it is a dozen lines, and bptt has no linear-algebra dependency to ask. Its error in σ²
 * falls like (σ₂/σ₁)^{2k} after k iterations; a warm start (the vector of the previous training
 * step, whose W_hh differs little) makes it a few iterations in the page.
 */
import { ShapeError } from "../errors.ts";

/** What `largestSingularValue` found. */
export interface SingularEstimate {
  /** σ_max, from below: ‖W v‖ for the unit vector v reached. */
  readonly sigma: number;
  /** The right singular vector reached (n values, unit length): the warm start of the next call. */
  readonly vector: Float64Array;
  /** Iterations run. */
  readonly iterations: number;
  /** Whether σ² changed by less than the tolerance (relative) in the last iteration. */
  readonly converged: boolean;
}

/** Options of `largestSingularValue`. */
export interface SingularOptions {
  /** Start vector (n values, any nonzero length): e.g. the previous call's `vector`. Default all ones over √n. */
  readonly start?: Float64Array;
  /** Stop once σ² changes by less than this, relative. Default 1e-13. */
  readonly tolerance?: number;
  /** Stop after this many iterations at most. Default 10,000. */
  readonly maxIterations?: number;
}

/**
 * σ_max of a row-major (m, n) matrix by power iteration on WᵀW.
 * @param w (m·n) row-major values, e.g. one gate block of W_hh
 * @param m rows
 * @param n columns
 * @param options start vector, tolerance, iteration cap
 * @returns σ_max (0 for a zero matrix), the vector reached and whether it converged
 * @throws ShapeError when w is shorter than m·n, or the start vector's length is not n
 */
export function largestSingularValue(w: Float32Array | Float64Array, m: number, n: number, options: SingularOptions = {}): SingularEstimate {
  if (w.length < m * n) throw new ShapeError(`the matrix has ${w.length} values; expected ${m}·${n} = ${m * n}`);
  const start = options.start;
  if (start !== undefined && start.length !== n) throw new ShapeError(`the start vector has ${start.length} values; expected ${n}`);
  const tolerance = options.tolerance ?? 1e-13;
  const maxIterations = options.maxIterations ?? 10_000;
  let v = start === undefined ? new Float64Array(n).fill(1) : Float64Array.from(start);
  if (!normalize(v)) v = new Float64Array(n).fill(1 / Math.sqrt(n)); // a zero start: the default one
  const wv = new Float64Array(m);
  let sigma2 = -1;
  for (let k = 1; k <= maxIterations; k++) {
    // wv = W v;  σ² = ‖W v‖² for the unit vector v (its Rayleigh quotient vᵀWᵀW v)
    let s2 = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += w[i * n + j] * v[j];
      wv[i] = s;
      s2 += s * s;
    }
    if (s2 === 0) return { sigma: 0, vector: v, iterations: k, converged: true };
    const converged = Math.abs(s2 - sigma2) <= tolerance * s2;
    sigma2 = s2;
    if (converged) return { sigma: Math.sqrt(s2), vector: v, iterations: k, converged };
    // v ← Wᵀ (W v), normalized
    const next = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      const a = wv[i];
      for (let j = 0; j < n; j++) next[j] += w[i * n + j] * a;
    }
    normalize(next);
    v = next;
  }
  return { sigma: Math.sqrt(sigma2), vector: v, iterations: maxIterations, converged: false };
}

/** Scale v to unit length in place; false (v unchanged) when it is zero. */
function normalize(v: Float64Array): boolean {
  let s = 0;
  for (const x of v) s += x * x;
  if (s === 0) return false;
  const r = 1 / Math.sqrt(s);
  for (let j = 0; j < v.length; j++) v[j] *= r;
  return true;
}
