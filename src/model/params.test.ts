/**
 * The parameter layout's two descriptions agree (paramCount's closed form and paramSpecs' list),
 * and the layout is the model's three parts in turn: input, cell stack, head.
 */
import { describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf } from "../cells/index.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import type { ModelConfig } from "./config.ts";
import { paramCount, paramSpecs, paramViews, trainingFlopsPerToken, type TensorShape } from "./params.ts";

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

describe("the layout of the model's three parts", () => {
  const config: ModelConfig = { cell: "lstm", nonlinearity: "tanh", layers: 2, hiddenSize: 5, vocabSize: 7, bias: true };

  it("is the input's tensors, the stack's, then the head's, with in_0 the input's width", () => {
    const names = paramSpecs(config).map((s) => s.name);
    const own = (tensors: readonly TensorShape[]): string[] => tensors.map((t) => t.name);
    const stack = names.filter((n) => n.startsWith("rnn."));
    expect(names).toEqual([...own(inputOf(config).tensors(config)), ...stack, ...own(headOf(config).tensors(config))]);
    expect(paramSpecs(config).find((s) => s.name === "rnn.weight_ih_l0")?.shape).toEqual([4 * 5, inputOf(config).width(config)]);
  });

  it("views: the input's tensors (none for one-hot), the layers', and the head's (fc.weight, fc.bias) over the flat array", () => {
    const flat = Float32Array.from({ length: paramCount(config) }, (_, i) => i);
    const views = paramViews(config, flat);
    expect(views.input).toEqual([]);
    const at = (name: string): number => paramSpecs(config).find((s) => s.name === name)?.offset ?? -1;
    expect(views.head.map((v) => v[0])).toEqual([at("fc.weight"), at("fc.bias")]);
    expect(views.head.map((v) => v.length)).toEqual([7 * 5, 7]);
    expect(views.layers[1]?.Wi[0]).toBe(at("rnn.weight_ih_l1"));
  });

  it("costs the FLOPs per token of the model before inputs and heads were units: 6·G·H²·L + 6·G·H²·(L−1) + 6·V·H", () => {
    for (const cell of CELL_NAMES) {
      for (const layers of [1, 3]) {
        const c = { ...config, cell, layers };
        const G = cellOf(cell).gateNames.length;
        expect(trainingFlopsPerToken(c)).toBe(6 * G * 25 * layers + 6 * G * 25 * (layers - 1) + 6 * 7 * 5);
      }
    }
  });
});
