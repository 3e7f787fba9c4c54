/**
 * A batch as the model's units lay it out: the lengths of its parts, and the check that asks the
 * model's input for its inputs and its head for its targets.
 */
import { describe, expect, it } from "vitest";
import { DataError, ShapeError } from "../errors.ts";
import { batchLayouts, dataLength, validateModelBatch } from "./batch.ts";
import type { ModelConfig } from "./config.ts";

const config: ModelConfig = { cell: "gru", nonlinearity: "tanh", layers: 1, hiddenSize: 3, vocabSize: 5, bias: true };

describe("batch layouts", () => {
  it("count values per step (T·B rows) or per sequence (B rows), times the width", () => {
    expect(dataLength({ type: "int32", per: "step", width: 1 }, 7, 3)).toBe(21);
    expect(dataLength({ type: "float32", per: "step", width: 4 }, 7, 3)).toBe(84);
    expect(dataLength({ type: "int32", per: "sequence", width: 1 }, 7, 3)).toBe(3);
  });

  it("are the one-hot input's and the softmax head's for a language model: one token id per step each", () => {
    expect(batchLayouts(config)).toEqual({ inputs: { type: "int32", per: "step", width: 1 }, targets: { type: "int32", per: "step", width: 1 } });
  });
});

describe("validateModelBatch", () => {
  const ok = { inputs: Int32Array.of(0, 1, 2, 3), targets: Int32Array.of(1, 2, 3, 4), T: 2, B: 2 };

  it("accepts what the input and the head read, and checks T and B first", () => {
    expect(() => validateModelBatch(ok, config)).not.toThrow();
    expect(() => validateModelBatch({ ...ok, B: 0 }, config)).toThrowError(/batch\.B must be an integer ≥ 1; received 0/);
  });

  it("asks the input about the inputs and the head about the targets", () => {
    expect(() => validateModelBatch({ ...ok, inputs: new Float32Array(4) }, config)).toThrowError(ShapeError);
    expect(() => validateModelBatch({ ...ok, inputs: new Float32Array(4) }, config)).toThrowError(/batch\.inputs is a Float32Array; expected an Int32Array/);
    expect(() => validateModelBatch({ ...ok, targets: Int32Array.of(1, 2, 3, 5) }, config)).toThrowError(DataError);
    expect(() => validateModelBatch({ ...ok, targets: Int32Array.of(1, 2, 3, 5) }, config)).toThrowError(/target token 5 at t=1, b=1 is out of range for vocabSize 5/);
  });
});
