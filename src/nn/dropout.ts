/**
 * Inverted dropout between stacked recurrent layers, as PyTorch's nn.RNN/LSTM/GRU(dropout = p) put
 * it (on the outputs of every layer but the last), and optionally on the last layer's output
 * before the output layer (char-rnn's placement). Training only: evaluation and sampling use the
 * whole network.
 *
 *   D1  x̃_t = m_t ⊙ h_t,  m_t[j] = 1/(1 − p) with probability 1 − p, else 0     (E[x̃_t] = h_t)
 *   D2  dh_t += m_t ⊙ dx̃_t                                                       (the mask passes the gradient back)
 *
 * The mask is a pure function of (seed, layer, position): element j of stream b at step t is kept
 * when a 32-bit hash of the global index ((t·B + b)·H + j), keyed by the seed and the layer, is at
 * least p·2³². So a slice of the batch on any thread draws exactly the entries the whole batch
 * would (results do not depend on the thread count), the backward pass recomputes the mask instead
 * of storing it, and a step's seed — a function of the run's seed and the step number — is all an
 * exact resume needs. Written by hand: the engines need this indexable form, which streaming
 * generators (and the Web Crypto API) do not give.
 */
import { ConfigError } from "../errors.ts";

/** What dropout a forward and backward pass applies. */
export interface Dropout {
  /** Probability of dropping a unit of each layer's output that feeds the next layer, in [0, 1). */
  readonly p: number;
  /** Probability of dropping a unit of the last layer's output before the output layer, in [0, 1). */
  readonly outputP: number;
  /** This pass's seed (a uint32): a new one every training step. */
  readonly seed: number;
}

/**
 * The drop probability of layer l's output.
 * @returns p for l < L − 1, outputP for the last layer
 */
export function dropRate(dropout: Dropout | undefined, l: number, L: number): number {
  if (dropout === undefined) return 0;
  return l < L - 1 ? dropout.p : dropout.outputP;
}

/**
 * Check dropout probabilities from outside.
 * @throws ConfigError when p or outputP is not in [0, 1)
 */
export function checkDropout(p: number, outputP: number): void {
  for (const [name, v] of [["dropout", p], ["outputDropout", outputP]] as const) {
    if (!(Number.isFinite(v) && v >= 0 && v < 1)) throw new ConfigError(`${name} must be a probability in [0, 1); received ${v}`);
  }
}

/**
 * The dropout between layers a new run takes when none is given: 0.2 for a stack (with output
 * dropout 0.2, the best of bench/quality.md's ten-minute runs), 0 for one layer, which has no layer between.
 * @param layers the model's layers
 */
export function defaultDropout(layers: number): number {
  return layers >= 2 ? 0.2 : 0;
}

/**
 * Whether dropout between layers can act on a model of `layers` layers (it needs a layer above).
 * @param p the between-layers dropout probability
 * @param layers the model's layers
 * @returns undefined when it can, else the reason, for the caller's message
 */
export function dropoutLayersProblem(p: number, layers: number): string | undefined {
  return p > 0 && layers < 2
    ? `dropout acts between stacked layers (as PyTorch's), and this model has ${layers}; use 2 layers or more, or the output dropout for the last layer's output`
    : undefined;
}

/**
 * The seed of one training step's masks: a hash of the run's seed and the step, so the same step
 * of a resumed run draws the same masks.
 * @param runSeed the run's seed
 * @param step updates already made (0 for the first)
 * @returns a uint32
 */
export function dropoutSeed(runSeed: number, step: number): number {
  return fmix32((fmix32(runSeed >>> 0) + Math.imul(step + 1, 0x9e3779b9)) >>> 0);
}

/**
 * D1 or D2 in place or out of place over one slice of a (T, B, H) time-major array:
 * out[r] = m[r]·x[r] for the slice's rows (streams b0 .. b0 + Bs − 1 of the full batch of B).
 * @param out (T, Bs, H) destination; may be `x` (the backward pass multiplies the gradient in place)
 * @param x (T, Bs, H) values (h_t forward, dx̃_t backward)
 * @param dropout probabilities and seed
 * @param layer the layer whose output this is (it keys the mask)
 * @param p the drop probability, in (0, 1)
 * @param T steps
 * @param Bs streams in this slice
 * @param H units
 * @param b0 first stream of the slice in the full batch
 * @param B streams in the full batch
 */
export function applyDropout(
  out: Float32Array, x: Float32Array, dropout: Dropout, layer: number, p: number,
  T: number, Bs: number, H: number, b0: number, B: number,
): void {
  const threshold = Math.floor(p * 4294967296);
  const scale = 1 / (1 - p);
  const key = layerKey(dropout.seed, layer);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < Bs; b++) {
      const r = (t * Bs + b) * H; // this slice's row
      const g = (t * B + b0 + b) * H; // the same row in the full batch: what keys the mask
      for (let j = 0; j < H; j++) {
        // D1 / D2  keep with probability 1 − p, scaled by 1/(1 − p)
        out[r + j] = maskHash(key, g + j) >= threshold ? x[r + j] * scale : 0;
      }
    }
  }
}

/**
 * The masks of one pass as float64 arrays, for the reference (which takes them as data).
 * @param dropout probabilities and seed
 * @param L layers
 * @returns per layer, (T, B, H) multipliers m_t (0 or 1/(1 − p)), or undefined where nothing is dropped
 */
export function dropoutMasks(dropout: Dropout, L: number, T: number, B: number, H: number): (Float64Array | undefined)[] {
  return Array.from({ length: L }, (_, l) => {
    const p = dropRate(dropout, l, L);
    if (p === 0) return undefined;
    const ones = new Float32Array(T * B * H).fill(1);
    applyDropout(ones, ones, dropout, l, p, T, B, H, 0, B);
    return Float64Array.from(ones);
  });
}

/** A key per (pass, layer). */
function layerKey(seed: number, layer: number): number {
  return fmix32((seed ^ Math.imul(layer + 1, 0x85ebca6b)) >>> 0);
}

/** Two rounds of MurmurHash3's finaliser over (key, index): a uniform uint32 per position. */
function maskHash(key: number, index: number): number {
  return fmix32((fmix32((index ^ key) >>> 0) + key) >>> 0);
}

/** MurmurHash3's 32-bit finaliser: a bijection of uint32 that mixes every bit into every other. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
