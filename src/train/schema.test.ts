/**
 * The option table: every option's check, help line and text parsing, and that the library,
 * the CLI and the playground take their defaults and messages from it.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { TRAIN_DEFAULTS } from "./options.ts";
import {
  checkTrainOptions, helpLine, optionProblem, parseOptionText, schemaDefaults, TRAIN_SCHEMA, type FlagOption, type OptionDef,
} from "./schema.ts";

/** An option that takes a value (not a flag). */
function valued(key: keyof typeof TRAIN_SCHEMA): Exclude<OptionDef, FlagOption> {
  const def = TRAIN_SCHEMA[key];
  if (def.kind === "flag") throw new Error(`${key} is a flag`);
  return def;
}

describe("the option table", () => {
  it("checks kinds and ranges, open ends included, with what was received", () => {
    expect(optionProblem(TRAIN_SCHEMA.hiddenSize, 256)).toBeUndefined();
    expect(optionProblem(TRAIN_SCHEMA.hiddenSize, 0)).toBe("expected an integer in [1, 16384]; received 0");
    expect(optionProblem(TRAIN_SCHEMA.hiddenSize, 2.5)).toMatch(/received 2.5/);
    expect(optionProblem(TRAIN_SCHEMA.dropout, 1)).toBe("expected a number in [0, 1); received 1");
    expect(optionProblem(TRAIN_SCHEMA.lr, 0)).toBe("expected a number in (0, 1000000000000]; received 0");
    expect(optionProblem(TRAIN_SCHEMA.cell, "mgu")).toBe('expected one of rnn, lstm, gru; received "mgu"');
    expect(optionProblem(TRAIN_SCHEMA.keepBest, "yes")).toMatch(/expected true or false/);
  });

  it("is what the library checks TrainOptions with", () => {
    expect(() => checkTrainOptions({ text: "x", batchSize: 0 })).toThrowError(ConfigError);
    expect(() => checkTrainOptions({ text: "x", batchSize: 0 })).toThrowError(/^batchSize: expected an integer in \[1, 100000\]; received 0$/);
    expect(() => checkTrainOptions({ text: "x", hiddenSize: 64, dropout: 0.5, lrSchedule: "cosine", keepBest: true })).not.toThrow();
  });

  it("parses text as a flag or a field gives it", () => {
    expect(parseOptionText(valued("hiddenSize"), " 128 ")).toEqual({ value: 128 });
    expect(parseOptionText(valued("hiddenSize"), "")).toEqual({ problem: 'expected an integer in [1, 16384]; received ""' });
    expect(parseOptionText(valued("optimizer"), "lion")).toEqual({ problem: 'expected one of sgd, momentum, adagrad, rmsprop, adam; received "lion"' });
  });

  it("holds the one default of each option (TRAIN_DEFAULTS is read from it) and says it in the help", () => {
    const defaults = schemaDefaults();
    for (const [key, value] of Object.entries(TRAIN_DEFAULTS)) expect(defaults[key as keyof typeof defaults], key).toBe(value);
    expect(helpLine(TRAIN_SCHEMA.hiddenSize)).toBe("hidden units per layer (default 192)");
    expect(helpLine(TRAIN_SCHEMA.lr)).toMatch(/\(default adam\/rmsprop 2e-3/);
    // every flag name is unique
    const flags = Object.values(TRAIN_SCHEMA).map((d) => d.flag);
    expect(new Set(flags).size).toBe(flags.length);
  });
});
