/**
 * The CLI's side of the option table (src/train/schema.ts): flags and help lines made from it,
 * and flag values parsed and checked by it, so `bptt train --help`, the parsing and the library's
 * checks say the same thing.
 */
import { helpLine, parseOptionText, TRAIN_SCHEMA, type SchemaKey } from "../train/schema.ts";
import type { TrainOptions } from "../train/options.ts";
import { UsageError, type OptionSpec, type ParsedValues } from "./args.ts";

/**
 * Flag specs for some of the table's options.
 * @param keys the options, in the order `--help` lists them
 * @returns flag name → spec
 */
export function schemaFlags(keys: readonly SchemaKey[]): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const key of keys) {
    const def = TRAIN_SCHEMA[key];
    out[def.flag] = def.kind === "flag" ? { type: "boolean", help: helpLine(def) } : { type: "string", value: def.value ?? "VALUE", help: helpLine(def) };
  }
  return out;
}

/**
 * The options whose flags were given, parsed and checked by the table; absent flags stay absent.
 * @param values parsed argv
 * @param keys the options to read
 * @returns the options given
 * @throws UsageError naming the flag, e.g. `--hidden must be an integer in [1, 16384]; received "0"`
 */
export function optionsFromFlags(values: ParsedValues, keys: readonly SchemaKey[]): Partial<Pick<TrainOptions, SchemaKey>> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const def = TRAIN_SCHEMA[key];
    const raw = values[def.flag];
    if (raw === undefined) continue;
    if (def.kind === "flag") {
      // a flag turns the default around: --no-bias gives bias false, --keep-best keepBest true
      if (raw === true) out[key] = !def.default;
      continue;
    }
    if (typeof raw !== "string") continue;
    const parsed = parseOptionText(def, raw);
    if ("problem" in parsed) throw new UsageError(`--${def.flag} ${parsed.problem.replace(/^expected /, "must be ")}`);
    out[key] = parsed.value;
  }
  // each value was checked against its option's kind and range above
  return out as Partial<Pick<TrainOptions, SchemaKey>>;
}
