/**
 * The chunk that a run's next training step trains on, rebuilt from the run's checkpoint the way
 * the trainer builds it (src/train/trainer.ts): the data position's chunk of the training part of
 * the text (fillChunk), from the carried state (zero at an epoch's first chunk), with the step's
 * dropout masks (dropoutSeed of the run's seed and the step).
 *
 * Why: on several threads the trainer's engine keeps no activations, so there is no `inspect`
 * (trainer.ts: diagnostics get the one-thread engine). The playground's worker then runs this
 * chunk through a one-thread engine that keeps them, with the checkpoint's parameters: exactly the
 * forward and BPTT of the next step, so the gradient views show what `inspect` would have shown at
 * that step (test/playground-settings.test.ts checks it against `inspect`). Pure: no DOM.
 */
import { cellOf } from "../../src/cells/index.ts";
import { fillChunk } from "../../src/data/batcher.ts";
import { splitText } from "../../src/data/text.ts";
import { encode, vocabFromSymbols, type TokenIds } from "../../src/data/vocab.ts";
import { BpttError } from "../../src/errors.ts";
import type { Checkpoint } from "../../src/io/checkpoint.ts";
import type { Batch } from "../../src/model/batch.ts";
import { stateLength } from "../../src/model/params.ts";
import { dropoutSeed, type Dropout } from "../../src/nn/dropout.ts";
import { stateKey, TRAIN_KEY } from "../../src/train/run-state.ts";

/** One step's input: what the trainer passes to `engine.lossAndGrads`. */
export interface NextChunk {
  /** The step that trains on it: the checkpoint's step + 1 (the step `inspect` would report). */
  readonly step: number;
  /** (T, B) time-major ids. */
  readonly batch: Batch;
  /** (S, L, B, H) the carried state it starts from. */
  readonly state0: Float32Array;
  /** 1/(T·B): the mean loss's gradient scale. */
  readonly scale: number;
  /** The step's dropout, or undefined without any. */
  readonly dropout: Dropout | undefined;
}

/** The parts of a checkpoint's training state (metadata "train", src/train/run-state.ts) that pick the next chunk. */
interface ChunkState {
  readonly step: number;
  readonly chunk: number;
  readonly T: number;
  readonly B: number;
  readonly valFraction: number;
  readonly seed: number;
  readonly dropout: number;
  readonly outputDropout: number;
}

/**
 * The training part of the text in the checkpoint's vocabulary, as the trainer splits it.
 * @param ckpt a checkpoint of a run (with training state)
 * @param text the run's whole text
 * @returns the training ids (the first 1 − valFraction of the text)
 * @throws BpttError when the checkpoint has no training state or no vocabulary
 */
export function trainingIds(ckpt: Checkpoint, text: string): TokenIds {
  if (ckpt.vocab === undefined) throw new BpttError("the checkpoint has no vocabulary: its text cannot be encoded");
  const ids = encode(vocabFromSymbols(ckpt.vocab), text); // as the trainer: a text it accepted has no unknown characters
  return splitText(ids, chunkState(ckpt).valFraction).train;
}

/**
 * The chunk, state and dropout of the step after the checkpoint's.
 * @param ckpt a checkpoint of a run, as the trainer hands it to `save` after a step
 * @param train the run's training ids (`trainingIds`)
 * @returns the next step's input
 * @throws BpttError when the checkpoint has no training state or its carried state is missing
 */
export function nextChunk(ckpt: Checkpoint, train: TokenIds): NextChunk {
  const s = chunkState(ckpt);
  const { T, B } = s;
  const inputs = new Int32Array(T * B);
  const targets = new Int32Array(T * B);
  fillChunk(train, B, T, s.chunk, inputs, targets);
  const state0 = new Float32Array(stateLength(ckpt.config, B));
  // the state starts at zero at every epoch boundary, and is carried from chunk to chunk within an epoch
  if (s.chunk > 0) {
    const names = cellOf(ckpt.config.cell).stateNames;
    const part = state0.length / names.length;
    names.forEach((name, i) => {
      const t = ckpt.extra.get(stateKey(name));
      if (t === undefined || t.data.length !== part) throw new BpttError(`the checkpoint's ${stateKey(name)} tensor is missing or has the wrong size`);
      state0.set(t.data, i * part);
    });
  }
  const dropping = s.dropout > 0 || s.outputDropout > 0;
  return {
    step: s.step + 1,
    batch: { inputs, targets, T, B },
    state0,
    scale: 1 / (T * B),
    dropout: dropping ? { p: s.dropout, outputP: s.outputDropout, seed: dropoutSeed(s.seed, s.step) } : undefined,
  };
}

/** Read the checkpoint's training state, as far as the next chunk needs it. */
function chunkState(ckpt: Checkpoint): ChunkState {
  let v: unknown;
  try {
    v = JSON.parse(ckpt.metadata[TRAIN_KEY] ?? "null");
  } catch {
    v = undefined;
  }
  const o = record(v);
  const settings = record(o["settings"]);
  const position = record(o["position"]);
  const num = (x: unknown, fallback?: number): number => {
    if (typeof x === "number") return x;
    if (x === undefined && fallback !== undefined) return fallback;
    throw new BpttError("the checkpoint's training state is missing or malformed: the next chunk cannot be rebuilt");
  };
  return {
    step: num(o["step"]), chunk: num(position["chunk"]), T: num(settings["seqLength"]), B: num(settings["batchSize"]),
    valFraction: num(settings["valFraction"]), seed: num(settings["seed"]),
    // absent in checkpoints older than dropout: none
    dropout: num(settings["dropout"], 0), outputDropout: num(settings["outputDropout"], 0),
  };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
}
