/**
 * The option table: every option's check, help line and text parsing, and that the library,
 * the CLI and the playground take their defaults and messages from it.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import type { CellName } from "../cells/index.ts";
import { commandHelp } from "../cli/args.ts";
import { trainCommand } from "../cli/commands/train.ts";
import { ConfigError } from "../errors.ts";
import { defaultDropout } from "../nn/dropout.ts";
import { defaultLearningRate, OPTIMIZERS, type OptimizerName } from "./optimizers.ts";
import { TRAIN_DEFAULTS, type TrainOptions } from "./options.ts";
import {
  checkTrainOptions, helpLine, HOST_SCHEMA, optionProblem, parseOptionText, TRAIN_SCHEMA, type FlagOption, type OptionDef,
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
    const bad: TrainOptions = { text: "x", batchSize: 0 };
    expect(() => checkTrainOptions(bad)).toThrowError(ConfigError);
    expect(() => checkTrainOptions(bad)).toThrowError(/^batchSize: expected an integer in \[1, 100000\]; received 0$/);
    const good: TrainOptions = { text: "x", hiddenSize: 64, dropout: 0.5, lrSchedule: "cosine", keepBest: true, validateAtEnd: false };
    expect(() => checkTrainOptions(good)).not.toThrow();
    // a host's options too, and a JavaScript caller's value of the wrong kind
    expect(() => checkTrainOptions(JSON.parse('{"saveEveryStep": "yes"}'))).toThrowError(/^saveEveryStep: expected true or false; received "yes"$/);
  });

  it("parses text as a flag or a field gives it", () => {
    expect(parseOptionText(valued("hiddenSize"), " 128 ")).toEqual({ value: 128 });
    expect(parseOptionText(valued("hiddenSize"), "")).toEqual({ problem: 'expected an integer in [1, 16384]; received ""' });
    expect(parseOptionText(valued("optimizer"), "lion")).toEqual({ problem: 'expected one of sgd, momentum, adagrad, rmsprop, adam; received "lion"' });
  });

  it("holds the one default of each option: TRAIN_DEFAULTS is read from it, and `bptt train --help` says it", () => {
    const tables: Readonly<Record<string, OptionDef>> = { ...TRAIN_SCHEMA, ...HOST_SCHEMA };
    const withDefault = Object.entries(tables).filter(([, def]) => def.default !== undefined);
    expect(TRAIN_DEFAULTS).toEqual(Object.fromEntries(withDefault.map(([key, def]) => [key, def.default])));
    const help = commandHelp(trainCommand).split("\n").filter((line) => line.startsWith("  --"));
    for (const [key, def] of withDefault) {
      // each default is valid for its own option, and the help line of its flag shows it
      expect(optionProblem(def, def.default), key).toBeUndefined();
      if (def.flag === undefined || def.kind === "flag") continue;
      expect(help.find((line) => line.trimStart().startsWith(`--${def.flag} `)), key).toMatch(` (default ${String(def.default)})`);
    }
    expect(helpLine(TRAIN_SCHEMA.hiddenSize)).toBe("hidden units per layer (default 192)");
    expect(helpLine(TRAIN_SCHEMA.lr)).toMatch(/\(default adam\/rmsprop 2e-3/);
    // the learning rate's default depends on the optimizer: its help line names each one's
    const stated = new Map(TRAIN_SCHEMA.lr.defaultText.split(", ").flatMap((part) => {
      const [names = "", rate] = part.split(" ");
      return names.split("/").map((name) => [name, Number(rate)] as const);
    }));
    expect(Object.fromEntries(stated)).toEqual(Object.fromEntries(OPTIMIZERS.map((name) => [name, defaultLearningRate(name)])));
    // and dropout's on the layers
    expect(TRAIN_SCHEMA.dropout.defaultText).toBe(`${defaultDropout(2)} with 2+ layers, ${defaultDropout(1)} with one`);
    // every flag name is unique
    const flags = Object.values(TRAIN_SCHEMA).map((d) => d.flag);
    expect(new Set(flags).size).toBe(flags.length);
  });

  it("types TrainOptions and TRAIN_DEFAULTS from its entries (a choice's values, a flag's boolean, a number's number)", () => {
    expectTypeOf<TrainOptions["cell"]>().toEqualTypeOf<CellName | undefined>();
    expectTypeOf<TrainOptions["optimizer"]>().toEqualTypeOf<OptimizerName | undefined>();
    expectTypeOf<TrainOptions["keepBest"]>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<TrainOptions["hiddenSize"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf(TRAIN_DEFAULTS.cell).toEqualTypeOf<CellName>();
    expectTypeOf(TRAIN_DEFAULTS.validateAtEnd).toEqualTypeOf<boolean>();
    // an option whose default depends on others has none in TRAIN_DEFAULTS
    expect("lr" in TRAIN_DEFAULTS || "dropout" in TRAIN_DEFAULTS || "threads" in TRAIN_DEFAULTS).toBe(false);
  });
});
