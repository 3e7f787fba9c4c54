/**
 * Option groups and steps shared by several commands, so each flag means the same everywhere.
 */
import { existsSync } from "node:fs";
import { MAX_HIDDEN, MAX_LAYERS, NONLINEARITIES, type ModelConfig, type Nonlinearity } from "../../model/config.ts";
import { choiceOption, intOption, UsageError, type OptionSpec, type ParsedValues } from "../args.ts";

/** Default hidden size of a new model. */
export const DEFAULT_HIDDEN = 128;

/** The flags that shape a new model (vocabulary size comes from elsewhere). */
export const MODEL_SHAPE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  hidden: { type: "string", value: "H", help: `hidden units per layer (default ${DEFAULT_HIDDEN})` },
  layers: { type: "string", value: "L", help: "stacked recurrent layers (default 1)" },
  nonlinearity: { type: "string", value: "F", help: `f1: ${NONLINEARITIES.join(" | ")} (default tanh)` },
  "no-bias": { type: "boolean", help: "no bias tensors at all: the article's exact model" },
};

/**
 * The model shape from MODEL_SHAPE_OPTIONS.
 * @param defaults values used when a flag is absent
 */
export function modelShapeFromArgs(
  values: ParsedValues, vocabSize: number, defaults: { hidden?: number; layers?: number } = {},
): ModelConfig {
  return {
    cell: "rnn",
    nonlinearity: choiceOption<Nonlinearity>(values, "nonlinearity", NONLINEARITIES, "tanh"),
    layers: intOption(values, "layers", defaults.layers ?? 1, 1, MAX_LAYERS),
    hiddenSize: intOption(values, "hidden", defaults.hidden ?? DEFAULT_HIDDEN, 1, MAX_HIDDEN),
    vocabSize,
    bias: values["no-bias"] !== true,
  };
}

/**
 * Refuse to overwrite an existing file unless --force: a random init must never replace a trained model.
 * @throws UsageError when the file exists
 */
export function checkOverwrite(path: string, force: boolean): void {
  if (!force && existsSync(path)) {
    throw new UsageError(`${path} already exists; pass --force to overwrite it`);
  }
}
