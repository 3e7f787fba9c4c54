/**
 * The CLI's side of the option tables (src/option-table.ts): a command's flags and help lines made
 * from its table, and its flag values parsed and checked by it, so `bptt COMMAND --help`, the
 * parsing and the library's checks say the same thing.
 */
import { helpLine, parseOptionText, type FlaggedTable, type OptionValues } from "../option-table.ts";
import { UsageError, type OptionSpec, type ParsedValues } from "./args.ts";

/**
 * Flag specs for a command's options.
 * @param table the command's option table, in the order `--help` lists them
 * @returns flag name → spec
 */
export function schemaFlags(table: FlaggedTable): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const def of Object.values(table)) {
    out[def.flag] = def.kind === "flag" ? { type: "boolean", help: helpLine(def) } : { type: "string", value: def.value ?? "VALUE", help: helpLine(def) };
  }
  return out;
}

/**
 * The options whose flags were given, parsed and checked by the table; absent flags stay absent.
 * @param values parsed argv
 * @param table the options to read
 * @returns the options given, by their names in the table
 * @throws UsageError naming the flag, e.g. `--hidden must be an integer in [1, 16384]; received "0"`
 */
export function optionsFromFlags<T extends FlaggedTable>(values: ParsedValues, table: T): OptionValues<T> {
  const out = new Map<string, unknown>();
  for (const [key, def] of Object.entries(table)) {
    const raw = values[def.flag];
    if (raw === undefined) continue;
    if (def.kind === "flag") {
      // a flag turns the default around: --no-bias gives bias false, --keep-best keepBest true
      if (raw === true) out.set(key, !def.default);
      continue;
    }
    if (typeof raw !== "string") continue;
    const parsed = parseOptionText(def, raw);
    if ("problem" in parsed) throw new UsageError(`--${def.flag} ${parsed.problem.replace(/^expected /, "must be ")}`);
    out.set(key, parsed.value);
  }
  // each value was checked against its option's kind and range above
  return Object.fromEntries(out) as OptionValues<T>;
}

/**
 * A required option's value.
 * @param value the value given, if any
 * @param flag the option's flag, without "--"
 * @param hint what to give, e.g. "e.g. --tokens 3,1,4,1,5"
 * @returns the value
 * @throws UsageError when it is missing or empty
 */
export function required<V>(value: V | undefined, flag: string, hint = ""): V {
  if (value === undefined || value === "") throw new UsageError(`--${flag} is required${hint ? ` (${hint})` : ""}`);
  return value;
}
