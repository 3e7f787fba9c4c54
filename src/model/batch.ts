/**
 * A batch of B token sequences of T steps, time-major (STYLE §2): the token of sequence b at
 * step t is `inputs[t*B + b]` (t, b 0-based), and `targets[t*B + b]` is the symbol that follows it,
 * the k_t of F5 / B1. Time-major makes step t of all sequences one contiguous slice.
 */
import { DataError, ShapeError } from "../errors.ts";

/** B sequences of T input tokens and their next-symbol targets, time-major. */
export interface Batch {
  /** Input token ids x_t, length T·B, `inputs[t*B + b]`. */
  readonly inputs: Int32Array;
  /** Target token ids (the next symbol of each input), length T·B, `targets[t*B + b]`. */
  readonly targets: Int32Array;
  /** Time steps T ≥ 1. */
  readonly T: number;
  /** Sequences B ≥ 1. */
  readonly B: number;
}

/**
 * Check that a batch is well formed for a vocabulary of `vocabSize` symbols.
 * @param batch the batch to check
 * @param vocabSize V; every id must lie in [0, V)
 * @throws ShapeError when T or B is not a positive integer or an array has the wrong length
 * @throws DataError naming the first token id that is not an integer in [0, V), with its position
 */
export function validateBatch(batch: Batch, vocabSize: number): void {
  const { T, B } = batch;
  if (!Number.isInteger(T) || T < 1) throw new ShapeError(`batch.T must be an integer ≥ 1; received ${T}`);
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(`batch.B must be an integer ≥ 1; received ${B}`);
  for (const [name, ids] of [["inputs", batch.inputs], ["targets", batch.targets]] as const) {
    if (ids.length !== T * B) {
      throw new ShapeError(`batch.${name} has ${ids.length} tokens; expected T·B = ${T}·${B} = ${T * B}`);
    }
    const what = name === "inputs" ? "input token" : "target token";
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const id = ids[t * B + b];
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new DataError(
            `${what} ${id} at t=${t}, b=${b} is out of range for vocabSize ${vocabSize}; expected an integer in [0, ${vocabSize - 1}]`,
          );
        }
      }
    }
  }
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
