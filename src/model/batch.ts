/**
 * A batch of B sequences of T steps, time-major (src/model/lm.ts): the input of sequence b at
 * step t is `inputs[t*B + b]` (t, b 0-based), and `targets[t*B + b]` is what the head is to
 * predict there; for a language model, the token and the symbol that follows it, the k_t of
 * F5 / B1. Time-major makes step t of all sequences one contiguous slice.
 *
 * What the inputs and targets are is the model's input's and head's (src/inputs/, src/heads/):
 * `ModelBatch` carries them as the units' data, and the engines pass them on without knowing
 * their type; `Batch`, token ids in and out, is the language model's, and what every model of
 * today takes.
 */
import { DataError, ShapeError } from "../errors.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import { checkTokenIds, type BatchData, type DataLayout } from "./batch-data.ts";
import type { ModelConfig } from "./config.ts";

export { dataLength, type BatchData, type DataLayout } from "./batch-data.ts";

/**
 * B sequences of T steps: inputs and targets as the model's input and head lay them out
 * (InputUnit.layout, HeadUnit.layout). A future classifier's batch adds the lengths of its sequences.
 */
export interface ModelBatch<Inputs extends BatchData = BatchData, Targets extends BatchData = BatchData> {
  /** The inputs x_t, as the model's input reads them (one-hot: T·B token ids, `inputs[t*B + b]`). */
  readonly inputs: Inputs;
  /** The targets, as the model's head reads them (softmax: T·B token ids, `targets[t*B + b]`). */
  readonly targets: Targets;
  /** Time steps T ≥ 1. */
  readonly T: number;
  /** Sequences B ≥ 1. */
  readonly B: number;
}

/** B sequences of T input tokens and their next-symbol targets, time-major: a language model's batch. */
export interface Batch extends ModelBatch<Int32Array, Int32Array> {
  /** Input token ids x_t, length T·B, `inputs[t*B + b]`. */
  readonly inputs: Int32Array;
  /** Target token ids (the next symbol of each input), length T·B, `targets[t*B + b]`. */
  readonly targets: Int32Array;
}

/**
 * Check that a batch of token ids is well formed for a vocabulary of `vocabSize` symbols.
 * @param batch the batch to check
 * @param vocabSize V; every id must lie in [0, V)
 * @throws ShapeError when T or B is not a positive integer or an array has the wrong length
 * @throws DataError naming the first token id that is not an integer in [0, V), with its position
 */
export function validateBatch(batch: Batch, vocabSize: number): void {
  checkBatchShape(batch);
  checkTokenIds(batch.inputs, "inputs", batch.T, batch.B, vocabSize);
  checkTokenIds(batch.targets, "targets", batch.T, batch.B, vocabSize);
}

/**
 * Check that a batch is well formed for a model: T and B, then the inputs as its input reads them
 * and the targets as its head does.
 * @param batch the batch to check
 * @param config the model
 * @throws ShapeError when T or B is not a positive integer or a part has the wrong type or length
 * @throws DataError naming the first value the input or the head cannot read, with its position
 */
export function validateModelBatch(batch: ModelBatch, config: ModelConfig): void {
  checkBatchShape(batch);
  inputOf(config).check(batch.inputs, batch.T, batch.B, config);
  headOf(config).check(batch.targets, batch.T, batch.B, config);
}

/**
 * @param config the model
 * @returns how its batches' inputs and targets are laid out
 */
export function batchLayouts(config: ModelConfig): { readonly inputs: DataLayout; readonly targets: DataLayout } {
  return { inputs: inputOf(config).layout(config), targets: headOf(config).layout(config) };
}

function checkBatchShape(batch: ModelBatch): void {
  const { T, B } = batch;
  if (!Number.isInteger(T) || T < 1) throw new ShapeError(`batch.T must be an integer ≥ 1; received ${T}`);
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(`batch.B must be an integer ≥ 1; received ${B}`);
}

/**
 * Build a batch from whole token sequences, each of which gives inputs = seq[0..n−2] and
 * targets = seq[1..n−1] (predict every next symbol), so T = n − 1.
 * @param seqs B ≥ 1 sequences of equal length n ≥ 2 of non-negative integer token ids
 * @returns the time-major batch (check the ids against a vocabulary with `validateBatch`)
 * @throws DataError when there are no sequences, lengths differ or are < 2, or an id is not a non-negative int32
 */
export function batchFromSequences(seqs: readonly (readonly number[])[]): Batch {
  const B = seqs.length;
  const first = seqs[0];
  if (first === undefined) throw new DataError("batchFromSequences needs at least one sequence; received none");
  const n = first.length;
  if (n < 2) {
    throw new DataError(`sequence 0 has ${n} token(s); expected at least 2 (an input and the next symbol to predict)`);
  }
  const T = n - 1;
  const inputs = new Int32Array(T * B);
  const targets = new Int32Array(T * B);
  seqs.forEach((seq, b) => {
    if (seq.length !== n) {
      throw new DataError(
        `sequence ${b} has ${seq.length} tokens; expected ${n} like sequence 0 (all sequences of a batch must have equal length)`,
      );
    }
    seq.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new DataError(`token ${id} at position ${i} of sequence ${b} is not a valid id; expected a non-negative integer`);
      }
    });
    for (let t = 0; t < T; t++) {
      inputs[t * B + b] = seq[t];
      targets[t * B + b] = seq[t + 1];
    }
  });
  return { inputs, targets, T, B };
}
