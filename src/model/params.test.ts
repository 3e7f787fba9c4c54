/** The parameter layout's two descriptions agree: paramCount's closed form and paramSpecs' list. */
import { describe, expect, it } from "vitest";
import { CELL_NAMES } from "../cells/index.ts";
import { paramCount, paramSpecs } from "./params.ts";

describe("paramCount", () => {
  it("is where paramSpecs' last tensor ends, for every cell, depth, bias and size", () => {
    for (const cell of CELL_NAMES) {
      for (const layers of [1, 2, 3]) {
        for (const bias of [true, false]) {
          for (const [hiddenSize, vocabSize] of [[1, 1], [7, 65], [192, 5000]] as const) {
            const config = { cell, nonlinearity: "tanh", layers, hiddenSize, vocabSize, bias } as const;
            const last = paramSpecs(config).at(-1);
            expect(paramCount(config), JSON.stringify(config)).toBe((last?.offset ?? 0) + (last?.size ?? 0));
          }
        }
      }
    }
  });
});
