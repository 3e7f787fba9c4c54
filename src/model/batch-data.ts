/**
 * The parts of a batch as the model's units see them (src/inputs/, src/heads/): what a batch's
 * inputs and targets are made of, and the check of token ids that the one-hot input and the
 * softmax head share. A leaf module: the units import it, and src/model/batch.ts builds on it.
 */
import { DataError, ShapeError } from "../errors.ts";

/** A batch's inputs or targets: token ids, or real values (dense features, regression targets). */
export type BatchData = Int32Array | Float32Array;

/**
 * How one part of a batch (its inputs, or its targets) is laid out, as the unit that reads it says
 * (InputUnit.layout, HeadUnit.layout). The engines allocate room for it, copy it and cut it into
 * slices of streams (src/model/threaded.ts) from this alone, without knowing what it means.
 */
export interface DataLayout {
  /** The array type: token ids (Int32Array) or real values (Float32Array). */
  readonly type: "int32" | "float32";
  /** One row per step of each sequence (T·B rows, time-major: row t·B + b), or one per sequence (B rows). */
  readonly per: "step" | "sequence";
  /** Values per row: 1 for a token id or a class label, D for D real features. */
  readonly width: number;
}

/**
 * @param layout the part's layout
 * @param T steps
 * @param B sequences
 * @returns its number of values: (T·B or B)·width
 */
export function dataLength(layout: DataLayout, T: number, B: number): number {
  return (layout.per === "step" ? T * B : B) * layout.width;
}

/**
 * Check token ids of a batch: an Int32Array of T·B ids in [0, V), time-major.
 * @param ids the batch's inputs or targets
 * @param part which of them, for the messages
 * @param T steps
 * @param B sequences
 * @param vocabSize V
 * @throws ShapeError when the array is not an Int32Array of T·B ids
 * @throws DataError naming the first id that is not an integer in [0, V), with its position
 */
export function checkTokenIds(ids: BatchData, part: "inputs" | "targets", T: number, B: number, vocabSize: number): asserts ids is Int32Array {
  if (!(ids instanceof Int32Array)) {
    throw new ShapeError(`batch.${part} is a ${describeArray(ids)}; expected an Int32Array of token ids`);
  }
  if (ids.length !== T * B) {
    throw new ShapeError(`batch.${part} has ${ids.length} tokens; expected T·B = ${T}·${B} = ${T * B}`);
  }
  const what = part === "inputs" ? "input token" : "target token";
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

/** What an array given as a batch's part is, for messages, e.g. "Float32Array". */
function describeArray(value: unknown): string {
  if (typeof value === "object" && value !== null) return value.constructor.name;
  return typeof value;
}
