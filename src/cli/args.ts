/**
 * Command-line parsing on top of node:util parseArgs, and help text generated from the same
 * specs (so `--help` cannot drift from what is parsed); the specs, and the checks of the values,
 * come from each command's option table (src/cli/schema-flags.ts).
 */
import { parseArgs } from "node:util";
import { BpttError } from "../errors.ts";

/** A usage mistake: unknown flag, missing or malformed value. The CLI exits with code 2. */
export class UsageError extends BpttError {}

/** One option of a command. */
export interface OptionSpec {
  /** "string" takes a value, "boolean" is a flag. */
  readonly type: "string" | "boolean";
  /** Value name shown in help, e.g. "N" or "FILE". */
  readonly value?: string;
  /** One line of help; say the default. */
  readonly help: string;
  /** Single-letter alias. */
  readonly short?: string;
}

/** A subcommand of `bptt`. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) after "bptt NAME". */
  readonly usage: string;
  /** Paragraphs after the usage: what it does, examples. */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Runs the command; returns the exit code. */
  run(values: ParsedValues, io: CliIO): Promise<number> | number;
}

/** Parsed option values by long name. */
export type ParsedValues = Readonly<Record<string, string | boolean | undefined>>;

/** Where a command writes; tests pass their own. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** true when stderr is a terminal (live progress bars). */
  readonly stderrIsTTY: boolean;
  /** true once the reader of stdout has gone away (`bptt train --json | head`); later output is dropped. */
  readonly stdoutClosed?: () => boolean;
}

/**
 * Parse argv for a command; `--help` is always accepted.
 * @returns the values, or "help"
 * @throws UsageError for unknown options, missing values or stray arguments
 */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedValues | "help" {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UsageError(cleanParseError(e));
  }
  if (parsed.values["help"] === true) return "help";
  return parsed.values as ParsedValues;
}

function cleanParseError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  // node's messages end with advice about "--" that does not apply here; keep the first sentence
  return message.split(/\. To specify a positional argument/)[0].replace(/^Unknown option/, "unknown option");
}

/**
 * Help text of a command, generated from its option table.
 * @returns text ending with a newline
 */
export function commandHelp(command: Command): string {
  const lines = [`Usage: bptt ${command.name} ${command.usage}`, "", command.description.trim(), "", "Options:"];
  const rows = Object.entries(command.options).map(([name, spec]) => {
    const flag = `${spec.short !== undefined ? `-${spec.short}, ` : ""}--${name}${spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""}`;
    return [flag, spec.help] as const;
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  for (const [flag, help] of rows) lines.push(`  ${flag.padEnd(width)}  ${help}`);
  return `${lines.join("\n")}\n`;
}
