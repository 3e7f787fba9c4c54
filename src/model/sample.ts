/**
 * Text generation: run the network over a prime text, then draw one character at a time from
 * y_t = softmax(ȳ_t / temperature), restricted to the top k and to the nucleus of probability p
 * (Holtzman et al. 2019, "The curious case of neural text degeneration"), feeding each drawn
 * character back in as the next input.
 */
import { ConfigError, DataError } from "../errors.ts";
import { encode } from "../data/vocab.ts";
import type { Kernels } from "../kernels/types.ts";
import { Rng } from "../rng.ts";
import { modelVocab, type LanguageModel } from "./language-model.ts";
import { LmEngine } from "./lm.ts";

/** Options of `generate` and `sample`. */
export interface SampleOptions {
  /** Characters to generate (after the prime). Default 500. */
  readonly length?: number;
  /** Softmax temperature: < 1 sharper, > 1 flatter, 0 always the most likely character. Default 1. */
  readonly temperature?: number;
  /** Draw only among the k most likely characters; 0 = all. Default 0. */
  readonly topK?: number;
  /**
   * Nucleus sampling: draw only among the most likely characters whose probabilities (after
   * temperature and top-k) add up to at least p, in (0, 1]. Default 1: all.
   */
  readonly topP?: number;
  /** End the sample right after the first occurrence of this text (which is included). Default: none. */
  readonly stop?: string;
  /** Text the network reads before generating (it is not repeated in the output). Default "\n" when the vocabulary has it, else its first symbol. */
  readonly prime?: string;
  /** Drop prime characters that are not in the vocabulary instead of failing. Default false. */
  readonly skipUnknown?: boolean;
  /** Random seed. Default 1. */
  readonly seed?: number;
  /** Arithmetic; default the fastest available. */
  readonly kernels?: Kernels;
}

/**
 * Generate text one character at a time (so a caller can stream it).
 * @param model a text model
 * @param options length, temperature, top-k, prime, seed
 * @returns a generator of single characters (Unicode code points)
 * @throws ConfigError for options out of range; DataError for a model without vocabulary or an unknown prime character
 */
export function* generate(model: LanguageModel, options: SampleOptions = {}): Generator<string, void, undefined> {
  const vocab = modelVocab(model);
  const V = model.config.vocabSize;
  const length = options.length ?? 500;
  const temperature = options.temperature ?? 1;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  const stop = options.stop ?? "";
  if (!(Number.isInteger(length) && length >= 0)) throw new ConfigError(`length must be an integer ≥ 0; received ${length}`);
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new ConfigError(`temperature must be a number ≥ 0; received ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0)) throw new ConfigError(`top-k must be an integer ≥ 0; received ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new ConfigError(`top-p must be a number in (0, 1]; received ${topP}`);
  const defaultPrime = vocab.index.has(10) ? "\n" : (vocab.symbols[0] as string);
  const primeIds = Int32Array.from(encode(vocab, options.prime ?? defaultPrime, { skipUnknown: options.skipUnknown ?? false }));
  if (primeIds.length === 0) {
    throw new DataError("the prime text is empty (or none of its characters are in the vocabulary); give at least one known character");
  }
  const rng = new Rng(options.seed ?? 1);
  const engine = new LmEngine(model.config, options.kernels);
  // where the kernels read them in place, copied there once (not at every character)
  const params = engine.residentParams(model.params);
  // The engine's buffers (and that copy) live in kernel memory (WebAssembly: not garbage-collected): give them back
  // when the generator finishes or is closed early (return() runs the finally block).
  try {
    // Read the prime in one forward pass; its last row of y is the distribution of the first new character.
    // (The targets are not used: any valid id will do.)
    engine.loss(params, { inputs: primeIds, targets: new Int32Array(primeIds.length), T: primeIds.length, B: 1 });
    const h = engine.finalState();
    const probs = new Float64Array(V);
    const input = new Int32Array(1);
    const target = new Int32Array(1);
    const step = { inputs: input, targets: target, T: 1, B: 1 };
    let y = engine.probabilities.subarray((primeIds.length - 1) * V, primeIds.length * V);
    let recent = ""; // the last characters drawn, as long as `stop`
    for (let i = 0; i < length; i++) {
      const id = draw(y, probs, temperature, topK, topP, rng);
      const symbol = vocab.symbols[id] as string;
      yield symbol;
      if (stop !== "") {
        recent = (recent + symbol).slice(-stop.length);
        if (recent === stop) return;
      }
      input[0] = id;
      engine.loss(params, step, h);
      engine.finalState(h);
      y = engine.probabilities.subarray(0, V);
    }
  } finally {
    engine.dispose();
  }
}

/**
 * Generate a whole string.
 * @param model a text model
 * @param options as for `generate`
 * @returns the generated text (without the prime)
 */
export function sample(model: LanguageModel, options: SampleOptions = {}): string {
  let out = "";
  for (const c of generate(model, options)) out += c;
  return out;
}

/**
 * The distribution a character is drawn from: probabilities y sharpened by temperature, restricted
 * to the top k and then to the nucleus of probability p; unnormalised (the draw scales by their sum).
 * @param work output (V): the weights, 0 outside the kept set
 * @param y probabilities (V), temperature > 0
 * @param topK 0 = all
 * @param topP in (0, 1]; 1 = all
 */
export function samplingWeights(work: Float64Array, y: Float32Array, temperature: number, topK: number, topP: number): void {
  const V = y.length;
  // softmax(ȳ/τ) ∝ y^(1/τ); work in logs to avoid underflow of small y at small τ
  let max = -Infinity;
  for (let j = 0; j < V; j++) {
    work[j] = Math.log(y[j]) / temperature;
    if (work[j] > max) max = work[j];
  }
  let threshold = -Infinity;
  if (topK > 0 && topK < V) threshold = Array.from(work).sort((a, b) => b - a)[topK - 1] as number;
  let sum = 0;
  for (let j = 0; j < V; j++) {
    work[j] = work[j] >= threshold ? Math.exp(work[j] - max) : 0;
    sum += work[j];
  }
  if (topP >= 1) return;
  // the nucleus: the most likely symbols until their share reaches p (at least one)
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => work[b] - work[a]);
  let kept = 0;
  let n = 0;
  while (n < V && (n === 0 || kept < topP * sum)) kept += work[order[n++] as number];
  for (let i = n; i < V; i++) work[order[i] as number] = 0;
}

/**
 * Draw an id from probabilities y, sharpened by temperature and restricted to the top k and the top p.
 * @param y probabilities (V)
 * @param work scratch (V)
 */
function draw(y: Float32Array, work: Float64Array, temperature: number, topK: number, topP: number, rng: Rng): number {
  const V = y.length;
  if (temperature === 0) {
    let best = 0;
    for (let j = 1; j < V; j++) if (y[j] > y[best]) best = j;
    return best;
  }
  samplingWeights(work, y, temperature, topK, topP);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += work[j];
  let u = rng.next() * sum;
  for (let j = 0; j < V; j++) {
    u -= work[j];
    if (u < 0) return j;
  }
  // rounding left u ≥ 0: return the last id with probability > 0
  for (let j = V - 1; j >= 0; j--) if (work[j] > 0) return j;
  return 0;
}
