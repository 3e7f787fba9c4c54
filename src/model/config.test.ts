/**
 * The model config's input and head: a config without them (every checkpoint written before they
 * existed) is one-hot/softmax, and its JSON keeps its bytes through a round trip.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import { describeModelConfig, modelConfigJson, parseModelConfig, sameModelConfig, validateModelConfig, type ModelConfig } from "./config.ts";

/** Configs as checkpoints before inputs and heads stored them, byte for byte. */
const OLD_JSON = [
  `{"cell":"rnn","nonlinearity":"tanh","layers":1,"hiddenSize":100,"vocabSize":65,"bias":true}`,
  `{"cell":"lstm","nonlinearity":"tanh","layers":2,"hiddenSize":8,"vocabSize":65,"bias":true}`,
  `{"cell":"gru","nonlinearity":"tanh","layers":3,"hiddenSize":4,"vocabSize":28,"bias":false}`,
  `{"cell":"rnn","nonlinearity":"relu","layers":1,"hiddenSize":8,"vocabSize":65,"bias":false}`,
];

describe("model config: input and head", () => {
  it.each(OLD_JSON)("reads %s as one-hot/softmax and writes it back byte for byte", (json) => {
    const config = parseModelConfig(JSON.parse(json), "test");
    expect(config).not.toHaveProperty("input");
    expect(config).not.toHaveProperty("head");
    expect(inputOf(config).name).toBe("onehot");
    expect(headOf(config).name).toBe("softmax");
    expect(modelConfigJson(config)).toBe(json);
  });

  it("takes the default input and head when named, and leaves them out again (one form per model)", () => {
    const plain = parseModelConfig(JSON.parse(OLD_JSON[1] ?? ""), "test");
    const named = parseModelConfig({ input: "onehot", ...JSON.parse(OLD_JSON[1] ?? "{}"), head: "softmax" }, "test");
    expect(named).toEqual(plain);
    expect(modelConfigJson({ ...plain, input: "onehot", head: "softmax" })).toBe(OLD_JSON[1]);
    expect(sameModelConfig({ ...plain, input: "onehot", head: "softmax" }, plain)).toBe(true);
    expect(describeModelConfig({ ...plain, input: "onehot" })).toBe(describeModelConfig(plain));
  });

  it("refuses an input or a head it does not know, naming the choices", () => {
    const o = JSON.parse(OLD_JSON[0] ?? "{}") as Record<string, unknown>;
    expect(() => parseModelConfig({ ...o, input: "embedding" }, "m.safetensors")).toThrowError(ConfigError);
    expect(() => parseModelConfig({ ...o, input: "embedding" }, "m.safetensors")).toThrowError(
      /^m\.safetensors: config\.input must be one of "onehot" \(or absent: "onehot"\); received "embedding"$/,
    );
    expect(() => parseModelConfig({ ...o, head: 3 }, "m.safetensors")).toThrowError(/config\.head must be one of "softmax" \(or absent: "softmax"\); received 3/);
    const typed = parseModelConfig(o, "test");
    expect(() => validateModelConfig({ ...typed, head: "regression" } as unknown as ModelConfig)).toThrowError(/head must be one of softmax; received "regression"/);
  });
});
