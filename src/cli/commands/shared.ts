/**
 * Option groups and steps shared by several commands, so each flag means the same everywhere.
 */
import { existsSync } from "node:fs";
import { CELL_NAMES, cellOf } from "../../cells/index.ts";
import { portableFallbackReason } from "../../kernels/index.ts";
import { NONLINEARITIES, type CellName, type ModelConfig, type Nonlinearity } from "../../model/config.ts";
import { TRAIN_DEFAULTS } from "../../train/options.ts";
import type { SchemaKey } from "../../train/schema.ts";
import { choiceOption, UsageError, type CliIO, type OptionSpec, type ParsedValues } from "../args.ts";
import { optionsFromFlags, schemaFlags } from "../schema-flags.ts";

/** The options that shape a model. */
const MODEL_KEYS: readonly SchemaKey[] = ["cell", "hiddenSize", "layers", "nonlinearity", "bias"];

/** The flags that shape a new model (vocabulary size comes from elsewhere), from the option table. */
export const MODEL_SHAPE_OPTIONS: Readonly<Record<string, OptionSpec>> = schemaFlags(MODEL_KEYS);

/**
 * The model shape from MODEL_SHAPE_OPTIONS; absent flags take the table's defaults (a new run's).
 * @param defaults values used instead when a flag is absent (e.g. gradcheck's tiny model)
 * @throws UsageError for a value out of range, or a nonlinearity the cell does not take
 */
export function modelShapeFromArgs(
  values: ParsedValues, vocabSize: number, defaults: { hidden?: number; layers?: number } = {},
): ModelConfig {
  const given = optionsFromFlags(values, MODEL_KEYS);
  return {
    ...cellFromArgs(values),
    layers: given.layers ?? defaults.layers ?? TRAIN_DEFAULTS.layers,
    hiddenSize: given.hiddenSize ?? defaults.hidden ?? TRAIN_DEFAULTS.hiddenSize,
    vocabSize,
    bias: given.bias ?? TRAIN_DEFAULTS.bias,
  };
}

/**
 * --cell and --nonlinearity, checked together: the gated cells have no choice of f1.
 * @returns the cell and its nonlinearity (default the option table's: "lstm", "tanh")
 * @throws UsageError for an unknown cell or nonlinearity, or a nonlinearity the cell does not take
 */
export function cellFromArgs(values: ParsedValues): { cell: CellName; nonlinearity: Nonlinearity } {
  const cell = choiceOption<CellName>(values, "cell", CELL_NAMES, TRAIN_DEFAULTS.cell);
  const nonlinearity = choiceOption<Nonlinearity>(values, "nonlinearity", NONLINEARITIES, TRAIN_DEFAULTS.nonlinearity);
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

/**
 * Say on stderr when the model will run on the portable kernels without being asked to (a broken
 * install's missing .wasm, a runtime without WebAssembly SIMD): still correct, but far slower.
 * @param io where the warning goes (stderr)
 */
export function warnIfPortableKernels(io: CliIO): void {
  const reason = portableFallbackReason();
  if (reason === undefined) return;
  io.stderr(
    `warning: the WebAssembly kernels cannot run here (${reason}); running on the portable TypeScript kernels, ` +
      "which give the same results far more slowly (no SIMD, one thread)\n",
  );
}
