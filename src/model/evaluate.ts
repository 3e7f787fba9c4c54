/**
 * Evaluation: the mean cross-entropy of a model on a text, reading it in order with the hidden
 * state carried across chunks (truncated BPTT's forward pass over the whole text).
 */
import { ConfigError, DataError } from "../errors.ts";
import { evalChunks, fillEvalChunk, type EvalChunk } from "../data/batcher.ts";
import { encode, type TokenIds } from "../data/vocab.ts";
import type { Kernels } from "../kernels/types.ts";
import { modelVocab, type LanguageModel } from "./language-model.ts";
import { batchLayouts, type DataLayout } from "./batch.ts";
import { describeModelConfig, sameModelConfig, type ModelConfig } from "./config.ts";
import { LmEngine, type TrainingEngine } from "./lm.ts";
import { stateLength } from "./params.ts";

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Steps per forward pass; affects speed only. Default 200. */
  readonly seqLength?: number;
  /** Parallel streams. 1 (default) reads the whole text as one sequence; B > 1 cuts it into B streams, each starting from a zero state (faster, slightly higher loss). */
  readonly streams?: number;
  /** Drop characters outside the vocabulary instead of failing. Default false. */
  readonly skipUnknown?: boolean;
  /** Arithmetic; default the fastest available. Ignored when `engine` is given. */
  readonly kernels?: Kernels;
  /**
   * The engine to run on, e.g. the one training uses (its threads and its activation memory,
   * which a smaller chunk reuses); left usable, not disposed. Default: a one-thread engine of
   * its own, disposed at the end.
   */
  readonly engine?: TrainingEngine;
  /** Called after each chunk with the fraction done, for progress bars. */
  readonly onProgress?: (fraction: number) => void;
  /**
   * Positions (0-based, ≥ 1) of predicted characters to score by the model's most likely next
   * character, e.g. the recalls of the copy task (src/data/copy-task.ts): the result's `accuracy`.
   * Needs the engine's probabilities: not with `engine` (give none: the one-thread engine has them).
   */
  readonly accuracyAt?: Int32Array;
}

/** Result of `evaluate`. */
export interface Evaluation {
  /** Mean loss in nats per predicted character. */
  readonly loss: number;
  /** Bits per character: loss / ln 2. */
  readonly bpc: number;
  /** exp(loss). */
  readonly perplexity: number;
  /** Characters predicted: all but the first. */
  readonly chars: number;
  /** With `accuracyAt`: the share of those positions whose character is the model's most likely one, and their number. */
  readonly accuracy?: { readonly share: number; readonly count: number };
}

/**
 * Evaluate a text model on a text.
 * @param model a text model
 * @param text the text; every character must be in the model's vocabulary (or use skipUnknown)
 * @returns mean loss, bits per character, perplexity and the number of predicted characters
 * @throws DataError for unknown characters (with counts), a text shorter than 2 characters, or a model without vocabulary
 */
export function evaluate(model: LanguageModel, text: string, options: EvaluateOptions = {}): Evaluation {
  const ids = encode(modelVocab(model), text, { skipUnknown: options.skipUnknown ?? false });
  return evaluateIds(model, ids, options);
}

/**
 * Evaluate on token ids (already encoded).
 * @param model any model
 * @param ids token ids in [0, V)
 * @returns as `evaluate`
 */
export function evaluateIds(model: LanguageModel, ids: TokenIds, options: EvaluateOptions = {}): Evaluation {
  checkReadsTokens(model.config);
  if (ids.length < 2) {
    throw new DataError(`need at least 2 characters to evaluate (one to read, one to predict); received ${ids.length}`);
  }
  const T = options.seqLength ?? 200;
  const streams = options.streams ?? 1;
  const chunks = evalChunks(ids.length, T, streams);
  const scored = scoredPositions(ids.length, options.accuracyAt, options.engine);
  let own: LmEngine | undefined; // the engine made here, disposed at the end
  const engine = options.engine ?? (own = new LmEngine(model.config, options.kernels));
  if (!sameModelConfig(engine.config, model.config)) {
    throw new ConfigError(`evaluate: the engine is for ${describeModelConfig(engine.config)}; the model is ${describeModelConfig(model.config)}. Give an engine made for this model`);
  }
  // on an engine of its own, the parameters where the kernels read them in place, copied there once (not at every chunk)
  const params = own === undefined ? model.params : own.residentParams(model.params);
  const inputs = new Int32Array(T * streams);
  const targets = new Int32Array(T * streams);
  const state = new Float32Array(stateLength(model.config, streams));
  let h = state;
  let total = 0;
  let hits = 0;
  try {
    chunks.forEach((chunk, i) => {
      const n = chunk.steps * chunk.batch;
      if (chunk.reset) h = state.subarray(0, stateLength(model.config, chunk.batch)).fill(0);
      fillEvalChunk(ids, chunk, inputs, targets);
      total += engine.loss(params, { inputs: inputs.subarray(0, n), targets: targets.subarray(0, n), T: chunk.steps, B: chunk.batch }, h);
      if (scored !== undefined && own !== undefined) hits += mostLikelyHits(own.probabilities, chunk, scored, targets, model.config.vocabSize);
      engine.finalState(h);
      options.onProgress?.((i + 1) / chunks.length);
    });
  } finally {
    own?.dispose(); // its buffers and the parameters' copy live in kernel memory (WebAssembly: not garbage-collected)
  }
  const chars = ids.length - 1;
  const loss = total / chars;
  const count = scored === undefined ? 0 : scored.reduce((a, m) => a + m, 0);
  return {
    loss, bpc: loss / Math.LN2, perplexity: Math.exp(loss), chars,
    ...(scored === undefined ? {} : { accuracy: { share: count === 0 ? 0 : hits / count, count } }),
  };
}

/**
 * The positions to score as a mask over the ids, checked.
 * @returns mask[pos] = 1 for each position of `at`, or undefined without `at`
 * @throws ConfigError for a position outside 1..n−1 or with an engine given
 */
function scoredPositions(n: number, at: Int32Array | undefined, engine: TrainingEngine | undefined): Uint8Array | undefined {
  if (at === undefined) return undefined;
  if (engine !== undefined) throw new ConfigError("evaluate: accuracyAt needs the probabilities of evaluate's own engine; give no engine");
  const mask = new Uint8Array(n);
  for (const pos of at) {
    if (!(Number.isInteger(pos) && pos >= 1 && pos < n)) throw new ConfigError(`evaluate: accuracyAt positions must be in [1, ${n - 1}] (a predicted character); received ${pos}`);
    mask[pos] = 1;
  }
  return mask;
}

/**
 * Of one chunk's rows, those whose target position is scored and whose target is the most likely
 * character (the first of equal maxima).
 * @param y (rows, V) probabilities of the chunk's forward pass
 * @returns the number of hits
 */
function mostLikelyHits(y: Float32Array, chunk: EvalChunk, scored: Uint8Array, targets: Int32Array, V: number): number {
  let hits = 0;
  for (let t = 0; t < chunk.steps; t++) {
    for (let b = 0; b < chunk.batch; b++) {
      // row t·batch + b predicts ids[offset + b·stride + t + 1] (fillEvalChunk)
      if (scored[chunk.offset + b * chunk.stride + t + 1] !== 1) continue;
      const row = (t * chunk.batch + b) * V;
      let best = 0;
      for (let v = 1; v < V; v++) if (y[row + v] > y[row + best]) best = v;
      if (best === targets[t * chunk.batch + b]) hits++;
    }
  }
  return hits;
}

/**
 * Evaluating a text reads it as token ids and predicts the next id at every step: the model's
 * input and head must lay out a batch as one int32 id per step each (one-hot input, softmax head).
 * @throws ConfigError naming the part that does not
 */
function checkReadsTokens(config: ModelConfig): void {
  const tokenPerStep = (l: DataLayout): boolean => l.type === "int32" && l.per === "step" && l.width === 1;
  const { inputs, targets } = batchLayouts(config);
  if (!tokenPerStep(inputs) || !tokenPerStep(targets)) {
    throw new ConfigError(`evaluate reads a text as token ids and predicts the next one at every step; this model (${describeModelConfig(config)}) reads or predicts something else`);
  }
}
