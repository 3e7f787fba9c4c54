/**
 * Text generation: run the network over a prime text, then draw one character at a time from
 * y_t = softmax(ȳ_t / temperature), restricted to the top k and to the nucleus of probability p
 * (Holtzman et al. 2019, "The curious case of neural text degeneration"), feeding each drawn
 * character back in as the next input.
 */
import { DataError } from "../errors.ts";
import { encode } from "../data/vocab.ts";
import type { Kernels } from "../kernels/types.ts";
import { checkOptions, SEED, tableDefaults, withDefaults, type FlaggedTable, type OptionValues } from "../option-table.ts";
import { Rng } from "../rng.ts";
import { MAX_VOCAB } from "./config.ts";
import { modelVocab, type LanguageModel } from "./language-model.ts";
import { LmEngine } from "./lm.ts";

/**
 * The options of `generate` and `sample` (and of `bptt sample`, src/cli/commands/sample.ts): their
 * ranges, defaults and help. Each entry's doc comment is the doc of its SampleOptions field.
 */
export const SAMPLE_SCHEMA = {
  /** Characters to generate (after the prime). */
  length: { kind: "int", flag: "length", scope: "session", value: "N", min: 0, max: 100_000_000, default: 500, help: "characters to generate" },
  /** Softmax temperature: < 1 sharper, > 1 flatter, 0 always the most likely character. */
  temperature: { kind: "number", flag: "temperature", scope: "session", value: "T", min: 0, max: 100, default: 1, help: "softmax temperature >= 0 (default {default}; 0 = argmax)" },
  /** Draw only among the k most likely characters; 0 = all. */
  topK: { kind: "int", flag: "top-k", scope: "session", value: "K", min: 0, max: MAX_VOCAB, default: 0, help: "draw only among the K most likely characters (default {default}: all)" },
  /**
   * Nucleus sampling: draw only among the most likely characters whose probabilities (after
   * temperature and top-k) add up to at least p, in (0, 1]; 1 = all.
   */
  topP: { kind: "number", flag: "top-p", scope: "session", value: "P", min: 0, minOpen: true, max: 1, default: 1, help: "draw only among the most likely characters that make up probability P, in (0, 1] (default {default}: all)" },
  /** End the sample right after the first occurrence of this text (which is included); absent or "": none. */
  stop: { kind: "text", flag: "stop", scope: "session", value: "TEXT", help: "end the sample right after TEXT (e.g. $'\\n\\n'); --length still caps it" },
  /** Text the network reads before generating (it is not repeated in the output). Default "\n" when the vocabulary has it, else its first symbol. */
  prime: { kind: "text", flag: "prime", scope: "session", value: "TEXT", help: "text to read before generating (default: a newline)" },
  /** Drop prime characters that are not in the vocabulary instead of failing. */
  skipUnknown: { kind: "flag", flag: "skip-unknown", scope: "session", default: false, help: "drop prime characters that are not in the vocabulary" },
  /** Random seed. */
  seed: { ...SEED, scope: "session", help: "random seed" },
} as const satisfies FlaggedTable;

/** The defaults of `generate` (SAMPLE_SCHEMA's). */
export const SAMPLE_DEFAULTS = tableDefaults(SAMPLE_SCHEMA);

/** Options of `generate` and `sample`: the table's (SAMPLE_SCHEMA), and the kernels. */
export interface SampleOptions extends OptionValues<typeof SAMPLE_SCHEMA> {
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
  checkOptions(SAMPLE_SCHEMA, options);
  const { length, temperature, topK, topP, skipUnknown, seed } = withDefaults(SAMPLE_DEFAULTS, options);
  const stop = options.stop ?? "";
  const defaultPrime = vocab.index.has(10) ? "\n" : (vocab.symbols[0] as string);
  const primeIds = Int32Array.from(encode(vocab, options.prime ?? defaultPrime, { skipUnknown }));
  if (primeIds.length === 0) {
    throw new DataError("the prime text is empty (or none of its characters are in the vocabulary); give at least one known character");
  }
  const rng = new Rng(seed);
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
