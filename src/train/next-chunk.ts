/**
 * The input of a training step: the data position's chunk of the training text, the state it
 * starts from (zero at an epoch's first chunk, else carried from the chunk before) and the step's
 * dropout masks. `fillStepInput` is the trainer's own (trainer.ts calls it every step);
 * `nextChunk` rebuilds the same input for the step after a checkpoint's, from the checkpoint.
 *
 * Why the second: a run on several threads has no `inspect` (its engine keeps no activations;
 * trainer.ts gives `inspect` the one-thread engine only). A host that wants the gradient views of
 * such a run (the playground) passes `nextChunk` of the checkpoint that `save` hands it through a
 * one-thread `LmEngine` with `diagnostics: true` and the checkpoint's parameters: that is exactly
 * the next step's forward and BPTT, so its diagnostics are the ones `inspect` would give at that
 * step (test/next-chunk.test.ts checks them equal).
 */
import { cellOf } from "../cells/index.ts";
import { checkBatching, fillChunk, parsePosition, type BatchPosition } from "../data/batcher.ts";
import { splitText } from "../data/text.ts";
import type { TokenIds } from "../data/vocab.ts";
import { DataError } from "../errors.ts";
import type { Checkpoint } from "../io/checkpoint.ts";
import type { Batch } from "../model/batch.ts";
import { stateLength } from "../model/params.ts";
import { dropoutSeed, type Dropout } from "../nn/dropout.ts";
import type { TrainOptions } from "./options.ts";
import { hashIds, parseTrainState, runText, stateKey, type RunSettings, type TrainState } from "./run-state.ts";

/** One step's input: what the trainer passes to `engine.lossAndGrads`. */
export interface NextChunk {
  /** The step that trains on it: the checkpoint's step + 1 (the step `inspect` reports it at). */
  readonly step: number;
  /** (T, B) time-major ids. */
  readonly batch: Batch;
  /** (S, L, B, H) the state it starts from. */
  readonly state0: Float32Array;
  /** 1/(T·B): the mean loss's gradient scale. */
  readonly scale: number;
  /** The step's dropout, or undefined without any. */
  readonly dropout: Dropout | undefined;
}

/**
 * Fill one step's input in place, as every training step does: the state reset at an epoch's first
 * chunk (truncated BPTT carries it within an epoch), the position's chunk, and the step's dropout
 * (D1–D2: masks from the run's seed and the step, so an exact resume draws the same ones).
 * Allocates nothing but the dropout's small object.
 * @param train the run's training ids
 * @param settings the run's settings (T, B, seed, dropout)
 * @param position the chunk this step trains on
 * @param step updates made before this one
 * @param batch (T, B) written: the chunk's inputs and targets
 * @param carried (S, L, B, H) the state carried from the last chunk; zeroed at chunk 0
 * @returns the step's dropout, or undefined without any
 */
export function fillStepInput(
  train: TokenIds, settings: RunSettings, position: BatchPosition, step: number, batch: Batch, carried: Float32Array,
): Dropout | undefined {
  if (position.chunk === 0) carried.fill(0);
  fillChunk(train, batch.B, batch.T, position.chunk, batch.inputs, batch.targets);
  const p = settings.dropout ?? 0; // absent in checkpoints older than dropout: none
  const outputP = settings.outputDropout ?? 0;
  return p > 0 || outputP > 0 ? { p, outputP, seed: dropoutSeed(settings.seed, step) } : undefined;
}

/**
 * The training part of a run's text, in the checkpoint's vocabulary, as the trainer splits it.
 * Encode it once and pass it to every `nextChunk` of the run.
 * @param checkpoint a checkpoint of the run (with training state)
 * @param text the run's whole text, as given to `train` (a string or a Corpus)
 * @returns the training ids (the first 1 − valFraction of the text)
 * @throws DataError when the checkpoint has no training state or no vocabulary, or the text is not the run's
 */
export function trainingIds(checkpoint: Checkpoint, text: TrainOptions["text"]): TokenIds {
  const saved = requireTrainState(checkpoint);
  const { ids } = runText(text, checkpoint);
  if (saved.textChars !== ids.length || saved.textHash !== hashIds(ids)) {
    throw new DataError(
      `the checkpoint's run trained on another text (${saved.textChars} characters, hash ${saved.textHash}); ` +
        `this one has ${ids.length} characters, hash ${hashIds(ids)}: pass the run's own text`,
    );
  }
  return splitText(ids, saved.settings.valFraction).train;
}

/**
 * The input of the step after the checkpoint's: its chunk, the state carried into it and its dropout.
 * @param checkpoint a checkpoint of a run, e.g. as the trainer hands it to `save` after a step
 * @param train the run's training ids (`trainingIds`)
 * @returns the next step's input (new arrays)
 * @throws DataError when the checkpoint has no (or a malformed) training state, its data position does not fit the ids, or its carried state is missing
 */
export function nextChunk(checkpoint: Checkpoint, train: TokenIds): NextChunk {
  const { settings, step, position } = requireTrainState(checkpoint);
  const { seqLength: T, batchSize: B } = settings;
  const batch: Batch = { inputs: new Int32Array(T * B), targets: new Int32Array(T * B), T, B };
  const state0 = new Float32Array(stateLength(checkpoint.config, B));
  const { cell } = checkpoint.config;
  const names = cellOf(cell).stateNames;
  const part = state0.length / names.length;
  names.forEach((name, s) => {
    const t = checkpoint.extra.get(stateKey(cell, name));
    if (t === undefined || t.data.length !== part) {
      throw new DataError(`the checkpoint's ${stateKey(cell, name)} tensor is missing or has the wrong size; expected ${part} values`);
    }
    state0.set(t.data, s * part);
  });
  const at = parsePosition(position, checkBatching(train.length, B, T));
  const dropout = fillStepInput(train, settings, at, step, batch, state0);
  return { step: step + 1, batch, state0, scale: 1 / (T * B), dropout };
}

/** The checkpoint's training state (run-state.ts parses it, as for a resume). */
function requireTrainState(checkpoint: Checkpoint): TrainState {
  const saved = parseTrainState(checkpoint);
  if (saved === undefined) {
    throw new DataError("the checkpoint has no training state (a model from `bptt init`?): there is no next step of a run to rebuild");
  }
  return saved;
}
