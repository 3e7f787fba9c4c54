/**
 * Option tables: each option of a library call or a command defined once — its kind, range,
 * default, flag, scope and help — and everything that derives from a table: the TypeScript type
 * of its values (`OptionValues`), its defaults (`tableDefaults`), its checks (`optionProblem`,
 * `checkOptions`), its help lines (`helpLine`) and the parsing of a flag's or a form field's text
 * (`parseOptionText`). The tables live with what they configure: a training run's in
 * src/train/schema.ts, sampling's in src/model/sample.ts, each command's in src/cli/commands/.
 * A table is written `as const satisfies OptionTable`, so its literal kinds, choices and defaults
 * are what the types are made from. A table shares another's entry by spreading it, e.g.
 * `{ ...TRAIN_SCHEMA.seqLength, max: 1000 }`: the entry with a smaller range, stated once.
 *
 * Written by hand rather than with a validation library: the table is also a CLI and a form
 * description (flag names, value names, help lines, page limits), which a schema library would
 * carry only as opaque metadata, and the checks are simple ranges.
 */
import { ConfigError } from "./errors.ts";

/**
 * What a resumed run does with an option (one rule for the library, the CLI and the page):
 * - "model": part of the model's shape; a resumed run has the checkpoint's, and another value is refused;
 * - "run": fixed for the whole run and stored in the checkpoint; another value is refused;
 * - "init": sets the initial weights of a new run, not stored; refused when resuming;
 * - "resumable": stored in the checkpoint and kept by a resumed run, unless given again (then the
 *   run says what changed);
 * - "session": this invocation only (e.g. its wall-clock budget, or any option of a command that
 *   does not train); never stored.
 */
export type OptionScope = "model" | "run" | "init" | "resumable" | "session";

/**
 * Options a run stores and resolves together: "budget" (when it stops: replaced as a whole when
 * any of it is given), "cadence" (how often it validates, samples and checkpoints: RunCadence).
 */
export type OptionGroup = "budget" | "cadence";

/** What every option has. */
interface Common {
  /** The CLI flag, without "--"; absent for an option that only a program sets (e.g. a host's validateAtEnd). */
  readonly flag?: string;
  /** What a resumed run does with it. */
  readonly scope: OptionScope;
  /** Options it is stored and resolved with. */
  readonly group?: OptionGroup;
  /**
   * One line of help. A choice's choices are put before it ("rnn | lstm | gru: ") and the default
   * after it ("(default 192)"), unless the line places them itself with "{choices}" or
   * "{default}", e.g. "softmax temperature >= 0 (default {default}; 0 = argmax)".
   */
  readonly help: string;
  /** The value's name in `--help`, e.g. "N". */
  readonly value?: string;
  /** What the default is when it is not a plain value, e.g. "per optimizer: adam 2e-3". */
  readonly defaultText?: string;
}

/** An integer in [min, max]. */
export interface IntOption extends Common {
  readonly kind: "int";
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}

/** A number in [min, max] (or with open ends). */
export interface NumberOption extends Common {
  readonly kind: "number";
  readonly min: number;
  readonly max: number;
  /** min itself is not allowed. */
  readonly minOpen?: boolean;
  /** max itself is not allowed. */
  readonly maxOpen?: boolean;
  readonly default?: number;
}

/** One of fixed strings. */
export interface ChoiceOption extends Common {
  readonly kind: "choice";
  readonly choices: readonly string[];
  readonly default?: string;
}

/** A boolean; the CLI flag turns the default around (e.g. --no-bias for bias: true). */
export interface FlagOption extends Common {
  readonly kind: "flag";
  readonly default: boolean;
}

/** Any text (a file name, a prime text). */
export interface TextOption extends Common {
  readonly kind: "text";
  readonly default?: string;
}

/** One option of a table. */
export type OptionDef = IntOption | NumberOption | ChoiceOption | FlagOption | TextOption;

/** A table of options by the name a program gives them (e.g. TrainOptions' field names). */
export type OptionTable = Readonly<Record<string, OptionDef>>;

/** A table whose every option has a CLI flag (a command's). */
export type FlaggedTable = Readonly<Record<string, OptionDef & { readonly flag: string }>>;

/** The type of an option's value: a number, a boolean, one of its choices, or a string. */
export type OptionValue<D> =
  D extends { readonly kind: "int" | "number" } ? number
    : D extends { readonly kind: "flag" } ? boolean
      : D extends { readonly kind: "choice"; readonly choices: readonly (infer C)[] } ? C
        : D extends { readonly kind: "text" } ? string
          : never;

/** The values a table describes, each optional; each field carries its entry's doc comment. */
export type OptionValues<T extends OptionTable> = { readonly [K in keyof T]?: OptionValue<T[K]> };

/** The table's defaults: one value for each option with a plain default. */
export type TableDefaults<T extends OptionTable> = {
  readonly [K in keyof T as T[K] extends { readonly default: unknown } ? K : never]: OptionValue<T[K]>;
};

/** The names of a table's options whose entries match `P`, e.g. `{ scope: "model" }`. */
export type KeysWhere<T extends OptionTable, P> = { [K in keyof T]: T[K] extends P ? K : never }[keyof T] & string;

/** What `keysWhere` can ask of an entry. */
export interface EntryPattern {
  readonly scope?: OptionScope;
  readonly group?: OptionGroup;
  readonly kind?: OptionDef["kind"];
}

/**
 * The names of the options whose entries match a pattern, in the table's order.
 * @param table an option table
 * @param pattern the attributes to match, e.g. `{ scope: "model" }` or `{ group: "cadence" }`
 * @returns the names, typed as the table's keys that match
 */
export function keysWhere<T extends OptionTable, const P extends EntryPattern>(table: T, pattern: P): KeysWhere<T, P>[] {
  const wanted = Object.entries(pattern);
  const keys = Object.keys(table).filter((key) => {
    const attributes = new Map<string, unknown>(Object.entries(table[key] ?? {}));
    return wanted.every(([attribute, value]) => attributes.get(attribute) === value);
  });
  // each key kept matches P at run time as the type says at compile time
  return keys as KeysWhere<T, P>[];
}

/**
 * Some entries of a table or of its values, e.g. the options that shape a model, for `bptt init`.
 * @param from a table, or values by option
 * @param keys the entries to keep, in the order wanted (one that `from` lacks stays absent)
 * @returns those entries
 */
export function pick<T extends object, K extends keyof T & string>(from: T, keys: readonly K[]): Pick<T, K> {
  const entries = new Map<string, unknown>(Object.entries(from));
  // the entries named by `keys` that `from` has, no others: Pick<T, K> by construction
  return Object.fromEntries(keys.filter((key) => entries.has(key)).map((key) => [key, entries.get(key)])) as Pick<T, K>;
}

/**
 * The defaults a table gives (options whose default depends on others are left out).
 * @param table an option table
 * @returns name → default
 */
export function tableDefaults<T extends OptionTable>(table: T): TableDefaults<T> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(table)) if (def.default !== undefined) out[key] = def.default;
  // exactly the entries with a default, each of its option's type (the table satisfies OptionTable)
  return out as TableDefaults<T>;
}

/**
 * Options as given, the table's defaults where a value is absent (undefined counts as absent).
 * @param defaults the table's defaults
 * @param given the values given
 * @returns every defaulted option with a value
 */
export function withDefaults<D extends object, G extends Partial<Record<keyof D, unknown>>>(defaults: D, given: G): D & G {
  const out = new Map<string, unknown>(Object.entries(defaults));
  for (const [key, value] of Object.entries(given)) if (value !== undefined) out.set(key, value);
  // the defaults, each replaced by the value given where there is one
  return Object.fromEntries(out) as D & G;
}

/**
 * Why a value is not valid for an option, in the words every caller shows.
 * @param def the option
 * @param value what was given
 * @returns undefined when it is valid, else e.g. "expected an integer in [1, 16384]; received 0"
 */
export function optionProblem(def: OptionDef, value: unknown): string | undefined {
  const received = `received ${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
  switch (def.kind) {
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= def.min && value <= def.max
        ? undefined : `expected an integer in [${def.min}, ${formatNumber(def.max)}]; ${received}`;
    case "number": {
      const ok = typeof value === "number" && Number.isFinite(value) && (def.minOpen === true ? value > def.min : value >= def.min) &&
        (def.maxOpen === true ? value < def.max : value <= def.max);
      return ok ? undefined : `expected a number in ${def.minOpen === true ? "(" : "["}${def.min}, ${formatNumber(def.max)}${def.maxOpen === true ? ")" : "]"}; ${received}`;
    }
    case "choice":
      return typeof value === "string" && def.choices.includes(value) ? undefined : `expected one of ${def.choices.join(", ")}; ${received}`;
    case "flag":
      return typeof value === "boolean" ? undefined : `expected true or false; ${received}`;
    case "text":
      return typeof value === "string" ? undefined : `expected a string; ${received}`;
  }
}

/**
 * Check every option a caller gave against its table.
 * @param table the options' table
 * @param options the values given (absent or undefined: not checked)
 * @throws ConfigError naming the first option out of range, e.g. "hiddenSize: expected an integer in [1, 16384]; received 0"
 */
export function checkOptions(table: OptionTable, options: object): void {
  const given = new Map<string, unknown>(Object.entries(options));
  for (const [key, def] of Object.entries(table)) {
    const value = given.get(key);
    if (value === undefined) continue;
    const problem = optionProblem(def, value);
    if (problem !== undefined) throw new ConfigError(`${key}: ${problem}`);
  }
}

/**
 * An option's help line with its default, as `--help` and the playground show it.
 * @param def the option
 * @returns e.g. "hidden units per layer (default 192)"
 */
export function helpLine(def: OptionDef): string {
  if (def.kind === "flag") return def.help;
  const shown = def.defaultText ?? (def.default === undefined ? undefined : String(def.default));
  const choices = def.kind === "choice" ? def.choices.join(" | ") : "";
  if (/\{(default|choices)\}/.test(def.help)) return def.help.replace("{default}", shown ?? "none").replace("{choices}", choices);
  return `${choices === "" ? "" : `${choices}: `}${def.help}${shown === undefined ? "" : ` (default ${shown})`}`;
}

/**
 * Parse an option's value as a CLI or a form gives it (a string).
 * @param def the option (not a flag)
 * @param raw the text
 * @returns the value, or the problem in the words of `optionProblem`
 */
export function parseOptionText(def: Exclude<OptionDef, FlagOption>, raw: string): { value: number | string } | { problem: string } {
  const value: number | string = def.kind === "choice" || def.kind === "text" ? raw : raw.trim() === "" ? NaN : Number(raw.trim());
  const problem = optionProblem(def, value);
  return problem === undefined ? { value } : { problem: problem.replace(/received .*$/, `received ${JSON.stringify(raw)}`) };
}

/** A random seed, as every table that takes one states it (its own help and scope added). */
export const SEED = { kind: "int", flag: "seed", value: "N", min: 0, max: 2 ** 32 - 1, default: 1 } as const;

function formatNumber(x: number): string {
  return x === Number.MAX_SAFE_INTEGER ? "2^53 − 1" : String(x);
}
