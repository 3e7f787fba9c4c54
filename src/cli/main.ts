/**
 * The `bptt` command: dispatch to subcommands, help, and the one place that turns errors into
 * messages and exit codes (0 ok, 1 failure, 2 usage). No stack traces for expected errors;
 * set BPTT_DEBUG=1 to see them.
 */
import { BpttError } from "../errors.ts";
import { commandHelp, parseCommandArgs, UsageError, type CliIO, type Command } from "./args.ts";
import { gradCommand } from "./commands/grad.ts";
import { gradcheckCommand } from "./commands/gradcheck.ts";
import { evalCommand } from "./commands/eval.ts";
import { exportCommand } from "./commands/export.ts";
import { initCommand } from "./commands/init.ts";
import { sampleCommand } from "./commands/sample.ts";
import { trainCommand } from "./commands/train.ts";
import { VERSION } from "../version.ts";

/** All subcommands, in the order `bptt --help` lists them. */
export const COMMANDS: readonly Command[] = [trainCommand, sampleCommand, evalCommand, exportCommand, initCommand, gradCommand, gradcheckCommand];


function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "bptt — recurrent neural networks trained with exact backpropagation through time",
    "",
    "Usage: bptt COMMAND [options]        bptt COMMAND --help for the options of one command",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
    "",
  ].join("\n");
}

// A reader that goes away (`bptt train --json | head`) closes the pipe: Node reports EPIPE as an
// error event, which without a listener is an uncaught exception. Note it, and drop later output.
let stdoutClosed = false;
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  stdoutClosed = true;
});

const processIO: CliIO = {
  stdout: (text) => void (stdoutClosed || process.stdout.write(text)),
  stdoutClosed: () => stdoutClosed,
  stderr: (text) => void process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true,
};

/**
 * Run the CLI.
 * @param argv arguments after the program name
 * @param io output streams (tests pass their own)
 * @returns the exit code
 */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    const text = target !== undefined ? commandHelp(target) : mainHelp();
    if (name === undefined) {
      io.stderr(text);
      return 2;
    }
    io.stdout(text);
    return 0;
  }
  if (name === "--version" || name === "-v") {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`bptt: unknown command ${JSON.stringify(name)}; expected one of ${COMMANDS.map((c) => c.name).join(", ")} (bptt --help)\n`);
    return 2;
  }
  try {
    const values = parseCommandArgs(command, rest);
    if (values === "help") {
      io.stdout(commandHelp(command));
      return 0;
    }
    return await command.run(values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`bptt ${command.name}: ${e.message} (bptt ${command.name} --help)\n`);
      return 2;
    }
    if (e instanceof BpttError) {
      io.stderr(`bptt ${command.name}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string") {
      // file-system and OS errors (EACCES, ENOSPC, …): a failure of the environment, not a bug
      io.stderr(`bptt ${command.name}: ${e.message}\n`);
      return 1;
    }
    const detail = e instanceof Error ? (process.env["BPTT_DEBUG"] ? (e.stack ?? e.message) : e.message) : String(e);
    io.stderr(`bptt ${command.name}: unexpected error: ${detail}\n(this is a bug in bptt; rerun with BPTT_DEBUG=1 for the stack trace)\n`);
    return 1;
  }
}
