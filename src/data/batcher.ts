/**
 * Contiguous batching of one text stream for truncated BPTT, as char-rnn and torch-rnn do it.
 *
 * Dims: n ids, B parallel streams, T steps per chunk, L = floor(n/B) ids per stream.
 *
 *     stream b = ids[b·L .. (b+1)·L)                      (the last n − B·L ids are never used)
 *     chunk j:  inputs  stream_b[jT .. jT+T)              targets stream_b[jT+1 .. jT+T+1)
 *     epoch  =  chunks 0 .. floor((L−1)/T) − 1            (the tail of each stream that does not fill a chunk is unused)
 *
 * Chunk j+1 continues every stream exactly where chunk j stopped, so the trainer carries the
 * hidden state from chunk to chunk and resets it to zero at chunk 0 of every epoch.
 * Output is time-major like the engine: `inputs[t·B + b]`, `targets[t·B + b]`, t < T, b < B.
 *
 * The position in the data is plain data, `{ epoch, chunk }`, so a checkpoint stores it as JSON
 * and a resumed run sees exactly the chunks it would have seen.
 */
import { ConfigError, DataError, ShapeError } from "../errors.ts";
import type { TokenIds } from "./vocab.ts";

/** Where a training run is in the data: plain data, stored in checkpoints. */
export interface BatchPosition {
  /** Completed passes over the training ids, ≥ 0. */
  readonly epoch: number;
  /** Next chunk to train on, in [0, chunksPerEpoch). The hidden state is zero when it is 0. */
  readonly chunk: number;
}

/** The start of training. */
export const START: BatchPosition = { epoch: 0, chunk: 0 };

/**
 * Number of chunks in an epoch (0 when the text is too short; see `checkBatching`).
 * @param n number of training ids
 * @param B batch size (parallel streams), integer ≥ 1
 * @param T sequence length (steps per chunk), integer ≥ 1
 * @returns floor((L − 1)/T) with L = floor(n/B), or 0
 * @throws ConfigError when B or T is not a positive integer
 */
export function chunksPerEpoch(n: number, B: number, T: number): number {
  checkDims(B, T);
  const L = Math.floor(n / B);
  return L < 1 ? 0 : Math.floor((L - 1) / T);
}

/**
 * Fewest ids that give one chunk: every stream needs T inputs plus one more target.
 * @param B batch size
 * @param T sequence length
 * @returns B·(T + 1)
 */
export function minTrainLength(B: number, T: number): number {
  return B * (T + 1);
}

/**
 * Check that n ids give at least one chunk, with an error that says what to change.
 * @param n number of training ids
 * @param B batch size
 * @param T sequence length
 * @returns chunksPerEpoch(n, B, T), ≥ 1
 * @throws ConfigError for bad B or T; DataError when the text is too short for one chunk
 */
export function checkBatching(n: number, B: number, T: number): number {
  const chunks = chunksPerEpoch(n, B, T);
  if (chunks < 1) {
    throw new DataError(
      `the training text has ${n} characters; batch size ${B} and sequence length ${T} need at least ` +
        `B·(T+1) = ${minTrainLength(B, T)}; use a smaller --batch-size or --seq-length, or a longer text`,
    );
  }
  return chunks;
}

/**
 * Fill one chunk's inputs and targets (time-major). Allocates nothing.
 * @param ids the training ids (n of them)
 * @param B batch size
 * @param T sequence length
 * @param chunk chunk index j in [0, chunksPerEpoch(n, B, T))
 * @param outInputs (T, B) written: outInputs[t·B + b] = ids[b·L + jT + t]
 * @param outTargets (T, B) written: outTargets[t·B + b] = ids[b·L + jT + t + 1]
 * @throws ShapeError when an output is not T·B long; DataError when chunk is out of range
 */
export function fillChunk(
  ids: TokenIds,
  B: number,
  T: number,
  chunk: number,
  outInputs: Int32Array,
  outTargets: Int32Array,
): void {
  const chunks = chunksPerEpoch(ids.length, B, T);
  if (outInputs.length !== T * B || outTargets.length !== T * B) {
    throw new ShapeError(
      `chunk buffers have ${outInputs.length} inputs and ${outTargets.length} targets; expected T·B = ${T * B} each for T=${T}, B=${B}`,
    );
  }
  if (!Number.isInteger(chunk) || chunk < 0 || chunk >= chunks) {
    throw new DataError(`chunk ${chunk}: expected an integer in [0, ${chunks}) for ${ids.length} ids with B=${B}, T=${T}`);
  }
  const L = Math.floor(ids.length / B);
  const start = chunk * T;
  for (let b = 0; b < B; b++) {
    const s = b * L + start;
    for (let t = 0; t < T; t++) {
      outInputs[t * B + b] = ids[s + t] as number;
      outTargets[t * B + b] = ids[s + t + 1] as number;
    }
  }
}

/**
 * The position after training on `position`'s chunk.
 * @param position the chunk just trained on
 * @param chunks chunksPerEpoch of the run
 * @returns the next chunk, or chunk 0 of the next epoch after the last one (reset the hidden state then)
 */
export function nextPosition(position: BatchPosition, chunks: number): BatchPosition {
  return position.chunk + 1 < chunks
    ? { epoch: position.epoch, chunk: position.chunk + 1 }
    : { epoch: position.epoch + 1, chunk: 0 };
}

/**
 * Narrow a position read from a checkpoint and check it fits the data being resumed.
 * @param value the parsed JSON value
 * @param chunks chunksPerEpoch of the resumed run
 * @returns the position
 * @throws DataError when it is not `{ epoch, chunk }` with non-negative integers, or chunk ≥ chunks
 */
export function parsePosition(value: unknown, chunks: number): BatchPosition {
  const o = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  const epoch = o?.["epoch"];
  const chunk = o?.["chunk"];
  if (!isCount(epoch) || !isCount(chunk)) {
    throw new DataError(`expected a data position { epoch, chunk } of non-negative integers; received ${JSON.stringify(value) ?? String(value)}`);
  }
  if (chunk >= chunks) {
    throw new DataError(
      `the checkpoint stopped at chunk ${chunk} of an epoch, but this text gives ${chunks} chunks per epoch; ` +
        `resume with the same text, --batch-size and --seq-length as the saved run`,
    );
  }
  return { epoch, chunk };
}

/** One chunk of an evaluation pass (see `evalChunks`). Plain data. */
export interface EvalChunk {
  /** Parallel streams Bc in this chunk: B, or 1 in the tail pass. */
  readonly batch: number;
  /** Time steps Tc of this chunk, 1 ≤ Tc ≤ T. */
  readonly steps: number;
  /** Reset the hidden state (to Bc rows of zeros) before this chunk: the first chunk of each pass. */
  readonly reset: boolean;
  /** Input (t, b) is ids[offset + b·stride + t]; its target is the next id. */
  readonly offset: number;
  /** Distance between streams in ids. */
  readonly stride: number;
}

/**
 * Plan an evaluation pass that predicts every id but the first exactly once: ids[1..n) are the
 * targets, each predicted from all ids before it in its stream. The n − 1 targets are cut into B
 * streams of S = floor((n−1)/B) (main pass, chunks of T steps, last chunk shorter), and the
 * r = (n−1) − B·S left over at the end are predicted by a B=1 tail pass starting from a zero state.
 * The per-character loss is the summed loss of all chunks divided by n − 1.
 * @param n number of ids, ≥ 2
 * @param T steps per chunk, ≥ 1
 * @param B streams of the main pass, ≥ 1 (default 1: one stream over the whole text, no tail)
 * @returns the chunks in order; fill each with `fillEvalChunk`
 * @throws ConfigError for bad T or B; DataError when n < 2
 */
export function evalChunks(n: number, T: number, B = 1): EvalChunk[] {
  checkDims(B, T);
  if (!Number.isInteger(n) || n < 2) {
    throw new DataError(`expected at least 2 characters to evaluate on (one input, one target); received ${n}`);
  }
  const P = n - 1;
  const S = Math.floor(P / B);
  const chunks: EvalChunk[] = [];
  for (let start = 0; start < S; start += T) {
    chunks.push({ batch: B, steps: Math.min(T, S - start), reset: start === 0, offset: start, stride: S });
  }
  for (let start = B * S; start < P; start += T) {
    chunks.push({ batch: 1, steps: Math.min(T, P - start), reset: start === B * S, offset: start, stride: 0 });
  }
  return chunks;
}

/**
 * Fill one evaluation chunk's inputs and targets (time-major). Allocates nothing.
 * @param ids the ids being evaluated
 * @param chunk a chunk from `evalChunks(ids.length, ...)`
 * @param outInputs at least steps·batch long; [t·batch + b] = ids[offset + b·stride + t]
 * @param outTargets at least steps·batch long; [t·batch + b] = ids[offset + b·stride + t + 1]
 * @throws ShapeError when an output is too short or the chunk reaches past the ids
 */
export function fillEvalChunk(ids: TokenIds, chunk: EvalChunk, outInputs: Int32Array, outTargets: Int32Array): void {
  const { batch: Bc, steps: Tc, offset, stride } = chunk;
  const need = Tc * Bc;
  if (outInputs.length < need || outTargets.length < need) {
    throw new ShapeError(`eval buffers have ${outInputs.length} and ${outTargets.length} values; expected at least steps·batch = ${need}`);
  }
  // The last target read is ids[offset + (Bc−1)·stride + Tc].
  if (!(offset >= 0 && offset + (Bc - 1) * stride + Tc < ids.length)) {
    throw new ShapeError(`eval chunk at offset ${offset} reaches past the ${ids.length} ids; expected a chunk from evalChunks(${ids.length}, ...)`);
  }
  for (let b = 0; b < Bc; b++) {
    const s = offset + b * stride;
    for (let t = 0; t < Tc; t++) {
      outInputs[t * Bc + b] = ids[s + t] as number;
      outTargets[t * Bc + b] = ids[s + t + 1] as number;
    }
  }
}

function checkDims(B: number, T: number): void {
  if (!Number.isInteger(B) || B < 1) {
    throw new ConfigError(`batch size: expected an integer ≥ 1; received ${B}`);
  }
  if (!Number.isInteger(T) || T < 1) {
    throw new ConfigError(`sequence length: expected an integer ≥ 1; received ${T}`);
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
