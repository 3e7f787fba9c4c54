/**
 * Option groups and steps shared by several commands, so each flag means the same everywhere.
 */
import { existsSync } from "node:fs";
import { CELL_NAMES, cellOf } from "../../cells/index.ts";
import { MAX_HIDDEN, MAX_LAYERS, NONLINEARITIES, type CellName, type ModelConfig, type Nonlinearity } from "../../model/config.ts";
import { choiceOption, intOption, UsageError, type OptionSpec, type ParsedValues } from "../args.ts";

/** Default hidden size of a new model. */
export const DEFAULT_HIDDEN = 128;

/** The flags that shape a new model (vocabulary size comes from elsewhere). */
export const MODEL_SHAPE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  cell: { type: "string", value: "C", help: `recurrent cell: ${CELL_NAMES.join(" | ")} (default rnn, the article's simple RNN)` },
  hidden: { type: "string", value: "H", help: `hidden units per layer (default ${DEFAULT_HIDDEN})` },
  layers: { type: "string", value: "L", help: "stacked recurrent layers (default 1)" },
  nonlinearity: { type: "string", value: "F", help: `f1 of the simple RNN: ${NONLINEARITIES.join(" | ")} (default tanh; lstm and gru: tanh only)` },
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
    ...cellFromArgs(values),
    layers: intOption(values, "layers", defaults.layers ?? 1, 1, MAX_LAYERS),
    hiddenSize: intOption(values, "hidden", defaults.hidden ?? DEFAULT_HIDDEN, 1, MAX_HIDDEN),
    vocabSize,
    bias: values["no-bias"] !== true,
  };
}

/**
 * --cell and --nonlinearity, checked together: the gated cells have no choice of f1.
 * @returns the cell and its nonlinearity (default "rnn", "tanh")
 * @throws UsageError for an unknown cell or nonlinearity, or a nonlinearity the cell does not take
 */
export function cellFromArgs(values: ParsedValues): { cell: CellName; nonlinearity: Nonlinearity } {
  const cell = choiceOption<CellName>(values, "cell", CELL_NAMES, "rnn");
  const nonlinearity = choiceOption<Nonlinearity>(values, "nonlinearity", NONLINEARITIES, "tanh");
  const accepted = cellOf(cell).nonlinearities;
  if (!accepted.includes(nonlinearity)) {
    throw new UsageError(
      `--nonlinearity ${nonlinearity} does not apply to --cell ${cell}: its gates use σ and its candidate and output tanh, as in PyTorch's nn.${cellOf(cell).title}. ` +
        `Omit --nonlinearity, or use --cell rnn for ${nonlinearity}`,
    );
  }
  return { cell, nonlinearity };
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

/**
 * A model's cell and size for messages.
 * @returns e.g. "2×tanh RNN, H=128" or "1×LSTM, H=256"
 */
export function describeShape(config: ModelConfig): string {
  const cell = cellOf(config.cell);
  const what = cell.nonlinearities.length > 1 ? `${config.nonlinearity} ${cell.title}` : cell.title;
  return `${config.layers}×${what}, H=${config.hiddenSize}`;
}
