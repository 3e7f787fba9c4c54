/**
 * A synthetic text source with a known answer: a random order-2 Markov chain over K symbols.
 * A model trained on its samples cannot do better than the chain's entropy rate
 * (nats per character), so a test can check that the validation loss comes close to it.
 *
 *     P(x_t = k | x_{t−2} = i, x_{t−1} = j) = transitions[(i·K + j)·K + k]
 *     entropy rate = Σ_{i,j} π(i, j) · H(P(· | i, j)),   π stationary over pairs (i, j)
 */
import { ConfigError, ShapeError } from "../errors.ts";
import { Rng } from "../rng.ts";

/** Symbols used by `randomMarkovSource`, in order: K ≤ 62. */
const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** An order-2 Markov chain over K symbols. Plain data. */
export interface MarkovSource {
  /** The K symbols, one character each. */
  readonly alphabet: readonly string[];
  /** (K, K, K) row-major: [(i·K + j)·K + k] = P(next = k | prev2 = i, prev1 = j); each row of K sums to 1. */
  readonly transitions: Float64Array;
}

/** Options of `randomMarkovSource`. */
export interface MarkovOptions {
  /**
   * Dirichlet concentration α of each transition row, > 0. Small α gives peaked rows and an
   * entropy rate well below log K; α → ∞ gives uniform rows (entropy rate log K). Default 0.1.
   */
  readonly concentration?: number;
}

/**
 * Draw a random order-2 chain: each of the K² rows is an independent Dirichlet(α, …, α) sample.
 * @param alphabetSize K in [2, 62]; the symbols are a–z, A–Z, 0–9, in that order
 * @param seed seed of the generator that draws the rows
 * @param options `concentration` α (default 0.1)
 * @returns the chain; the same arguments give the same chain
 * @throws ConfigError when K or α is out of range
 */
export function randomMarkovSource(alphabetSize: number, seed: number, options: MarkovOptions = {}): MarkovSource {
  const K = alphabetSize;
  if (!Number.isInteger(K) || K < 2 || K > ALPHABET.length) {
    throw new ConfigError(`Markov alphabet size: expected an integer in [2, ${ALPHABET.length}]; received ${K}`);
  }
  const alpha = options.concentration ?? 0.1;
  if (!(alpha > 0 && Number.isFinite(alpha))) {
    throw new ConfigError(`Markov concentration: expected a finite number > 0; received ${alpha}`);
  }
  const rng = new Rng(seed);
  const P = new Float64Array(K * K * K);
  const logW = new Float64Array(K);
  for (let row = 0; row < K * K; row++) {
    // Dirichlet = normalized Gamma(α) draws, in log space so tiny α cannot underflow a whole row to 0:
    // Gamma(α) = Gamma(α+1) · U^(1/α) for α < 1 (Marsaglia–Tsang).
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      let lw = Math.log(gammaAtLeastOne(alpha < 1 ? alpha + 1 : alpha, rng));
      if (alpha < 1) lw += Math.log(1 - rng.next()) / alpha;
      logW[k] = lw;
      if (lw > max) max = lw;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp((logW[k] as number) - max);
    for (let k = 0; k < K; k++) P[row * K + k] = Math.exp((logW[k] as number) - max) / sum;
  }
  return { alphabet: [...ALPHABET.slice(0, K)], transitions: P };
}

/**
 * Sample a text from the chain, starting from its stationary distribution over pairs.
 * @param source the chain
 * @param length number of characters, integer ≥ 0
 * @param rng the generator (advanced)
 * @returns the text
 */
export function sampleMarkov(source: MarkovSource, length: number, rng: Rng): string {
  const K = checkSource(source);
  if (!Number.isInteger(length) || length < 0) throw new ConfigError(`sample length: expected an integer ≥ 0; received ${length}`);
  if (length === 0) return "";
  const P = source.transitions;
  const out = new Array<string>(length);
  const pair = pick(stationaryPairs(source), 0, K * K, rng.next());
  let i = Math.floor(pair / K);
  let j = pair % K;
  out[0] = source.alphabet[i] as string;
  if (length > 1) out[1] = source.alphabet[j] as string;
  for (let t = 2; t < length; t++) {
    const k = pick(P, (i * K + j) * K, K, rng.next());
    out[t] = source.alphabet[k] as string;
    i = j;
    j = k;
  }
  return out.join("");
}

/**
 * The stationary distribution over pairs, by power iteration on the lazy chain (½I + ½P, same
 * fixed point, aperiodic even when the chain is periodic), from uniform, until the L1 change is below 1e-13.
 * @param source the chain
 * @returns π, [i·K + j] = stationary probability of (x_{t−1}, x_t) = (i, j)
 */
export function stationaryPairs(source: MarkovSource): Float64Array {
  const K = checkSource(source);
  const P = source.transitions;
  const N = K * K;
  let pi = new Float64Array(N).fill(1 / N);
  let next = new Float64Array(N);
  for (let iter = 0; iter < 1_000_000; iter++) {
    for (let q = 0; q < N; q++) next[q] = 0.5 * (pi[q] as number);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        const w = 0.5 * (pi[i * K + j] as number);
        if (w === 0) continue;
        const row = (i * K + j) * K;
        for (let k = 0; k < K; k++) next[j * K + k] = (next[j * K + k] as number) + w * (P[row + k] as number);
      }
    }
    let change = 0;
    for (let q = 0; q < N; q++) change += Math.abs((next[q] as number) - (pi[q] as number));
    [pi, next] = [next, pi];
    if (change < 1e-13) break;
  }
  return pi;
}

/**
 * The exact entropy rate of the chain: Σ_{i,j} π(i, j) · H(P(· | i, j)).
 * @param source the chain
 * @returns nats per character, in [0, log K]
 */
export function entropyRate(source: MarkovSource): number {
  const K = checkSource(source);
  const P = source.transitions;
  const pi = stationaryPairs(source);
  let h = 0;
  for (let q = 0; q < K * K; q++) {
    let hRow = 0;
    for (let k = 0; k < K; k++) {
      const p = P[q * K + k] as number;
      if (p > 0) hRow -= p * Math.log(p);
    }
    h += (pi[q] as number) * hRow;
  }
  return h;
}

function checkSource(source: MarkovSource): number {
  const K = source.alphabet.length;
  if (K < 1 || source.transitions.length !== K * K * K) {
    throw new ShapeError(`Markov transitions have ${source.transitions.length} values; expected K³ = ${K * K * K} for K = ${K} symbols`);
  }
  return K;
}

/** Inverse CDF: the first k with u < Σ_{m≤k} p[offset + m]; the last index if rounding leaves u above the total. */
function pick(p: Float64Array, offset: number, count: number, u: number): number {
  let acc = 0;
  for (let k = 0; k < count; k++) {
    acc += p[offset + k] as number;
    if (u < acc) return k;
  }
  for (let k = count - 1; k > 0; k--) if ((p[offset + k] as number) > 0) return k;
  return 0;
}

/** A Gamma(a) draw for a ≥ 1 (Marsaglia and Tsang 2000). */
function gammaAtLeastOne(a: number, rng: Rng): number {
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}
