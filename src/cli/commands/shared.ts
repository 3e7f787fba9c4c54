/**
 * Option groups and steps shared by several commands, so each flag means the same everywhere.
 */
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, statSync, unlinkSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { cellOf } from "../../cells/index.ts";
import { copyRecalls, copyTaskText, syntheticSource } from "../../data/copy-task.ts";
import { encodeCorpus, type Corpus } from "../../data/corpus.ts";
import { readCorpusFile, type ReadCorpusOptions } from "../../data/node-files.ts";
import { ConfigError } from "../../errors.ts";
import { portableFallbackReason } from "../../kernels/index.ts";
import type { CellName, ModelConfig, Nonlinearity } from "../../model/config.ts";
import { keysWhere, pick } from "../../option-table.ts";
import { TRAIN_SCHEMA } from "../../train/schema.ts";
import { UsageError, type CliIO } from "../args.ts";

/** The options that shape a model (scope "model"). */
const MODEL_KEYS = keysWhere(TRAIN_SCHEMA, { scope: "model" });

/** The training table's options that shape a new model (vocabulary size comes from elsewhere), for the commands that make one. */
export const MODEL_SHAPE_SCHEMA = pick(TRAIN_SCHEMA, MODEL_KEYS);

/** --model, as every command that reads a model takes it. */
export const MODEL_FILE = { kind: "text", flag: "model", scope: "session", value: "FILE", help: "model checkpoint (required)" } as const;

/** --force, as every command that writes a file but `train` takes it. */
export const FORCE = { kind: "flag", flag: "force", scope: "session", default: false, help: "overwrite --out if it exists" } as const;

/** A model's shape as options give it, every one with its value (given or default). */
export type ShapeOptions = { readonly [K in (typeof MODEL_KEYS)[number]]: ModelConfig[K] };

/**
 * A new model's configuration from its shape's options and the vocabulary size.
 * @param options the model-scope options, each with its value
 * @param vocabSize V
 * @returns the configuration (not yet validated)
 * @throws UsageError for a nonlinearity the cell does not take
 */
export function modelShape(options: ShapeOptions, vocabSize: number): ModelConfig {
  checkCellNonlinearity(options.cell, options.nonlinearity);
  return { ...pick(options, MODEL_KEYS), vocabSize };
}

/**
 * --cell and --nonlinearity, checked together: the gated cells have no choice of f1.
 * @throws UsageError for a nonlinearity the cell does not take
 */
export function checkCellNonlinearity(cell: CellName, nonlinearity: Nonlinearity): void {
  const accepted = cellOf(cell).nonlinearities;
  if (!accepted.includes(nonlinearity)) {
    throw new UsageError(
      `--nonlinearity ${nonlinearity} does not apply to --cell ${cell}: its gates use σ and its candidate and output tanh, as in PyTorch's nn.${cellOf(cell).title}. ` +
        `Omit --nonlinearity, or use --cell rnn for ${nonlinearity}`,
    );
  }
}

/** What `prepareOutput` checks besides the path itself. */
export interface OutputCheck {
  /** The option that names the path, for messages, e.g. "--out". */
  readonly flag: string;
  /** Whether an existing file may be replaced (--force, or a resumed run's own checkpoint). */
  readonly overwrite: boolean;
  /** The files the command reads: none of them may be the output. */
  readonly inputs?: readonly string[];
}

/**
 * Make sure a command can write its output before it starts working, so that no failure to save
 * comes after the work (two minutes of training, or hours): the missing parent directories are
 * made (as `mkdir -p`), the directory is shown to take a new file (a probe file made and
 * removed), an existing file is not replaced without --force, and the output is none of the
 * command's inputs.
 * @param path the file the command will write
 * @param check the flag's name, whether it may overwrite, and the inputs
 * @throws UsageError (exit 2) naming the path and the reason, e.g. "--out a/m.safetensors: cannot create the directory a: a file is in the way (ENOTDIR)"
 */
export function prepareOutput(path: string, check: OutputCheck): void {
  const where = `${check.flag} ${path}`;
  const target = resolve(path);
  for (const input of check.inputs ?? []) {
    if (sameFile(target, resolve(input))) throw new UsageError(`${where} is also an input of this command (${input}); expected another file`);
  }
  let existing: Stats | undefined;
  try {
    existing = statSync(target);
  } catch {
    existing = undefined; // nothing there yet (or a dangling link): the writes below say what is wrong
  }
  if (existing?.isDirectory() === true) throw new UsageError(`${where} is a directory; expected a file path, e.g. ${join(path, "model.safetensors")}`);
  if (existing !== undefined && !check.overwrite) throw new UsageError(`${where} already exists; pass --force to overwrite it`);
  const dir = dirname(target);
  try {
    makeDirectories(dir);
  } catch (e) {
    throw new UsageError(`${where}: cannot create the directory ${dirname(path)}: ${fsProblem(e)}`);
  }
  // the directory exists: can a new file be made in it (permissions, a read-only file system)?
  const probe = join(dir, `.${basename(target)}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, "wx"));
    unlinkSync(probe);
  } catch (e) {
    throw new UsageError(`${where}: cannot write in ${dirname(path)}: ${fsProblem(e)}`);
  }
}

/**
 * `mkdir -p`, one level at a time: Node's `mkdirSync(dir, { recursive: true })` reports ENOENT
 * where a read-only file system refuses the directory (EROFS), so it cannot give the reason.
 * @param dir an absolute path
 * @throws the file system's error for the first directory that cannot be made
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
}

/** Whether two resolved paths are one file (a link or another spelling of it included). */
function sameFile(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false; // one of them does not exist yet: not the same file
  }
}

/** A file-system error in the words of a one-line message. */
function fsProblem(e: unknown): string {
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
  switch (code) {
    case "ENOTDIR":
    case "EEXIST":
      return `a file is in the way where a directory should be (${code})`;
    case "EACCES":
    case "EPERM":
      return `permission denied (${code})`;
    case "EROFS":
      return "the file system is read-only (EROFS)";
    case "ENOSPC":
    case "EDQUOT":
      return `the disk is full (${code})`;
    default:
      return e instanceof Error ? e.message : String(e);
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

/** What a command reads with --data: the text's ids, and for the copy task where its recalls are. */
export interface DataSource {
  readonly corpus: Corpus;
  /** The copy task's recall positions in the ids (src/data/copy-task.ts), when the data is synthetic and no character was skipped. */
  readonly recalls?: Int32Array;
}

/**
 * Read --data: a UTF-8 file, or a synthetic source (`synthetic:copy:LAG[:SEED]`: the copy task of
 * src/data/copy-task.ts, made in memory, the same text for the same name, so that a resumed run
 * finds its text again).
 * @param name the --data value
 * @param options the vocabulary to encode with, unknown characters, progress
 * @returns the ids, and the copy task's recalls
 * @throws UsageError (exit 2) for a synthetic name it does not know; DataError as readCorpusFile
 */
export function readData(name: string, options: ReadCorpusOptions = {}): DataSource {
  let synthetic: ReturnType<typeof syntheticSource>;
  try {
    synthetic = syntheticSource(name);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--data: ${e.message}`);
    throw e;
  }
  if (synthetic === undefined) return { corpus: readCorpusFile(name, options) };
  const text = copyTaskText(synthetic);
  const bytes = new TextEncoder().encode(text);
  const corpus = encodeCorpus({ name, size: bytes.length, chunks: () => [bytes] }, options);
  // the copy task's characters are ASCII: one id each, so its recalls are ids' positions unless some were skipped
  return corpus.ids.length === text.length ? { corpus, recalls: copyRecalls(text) } : { corpus };
}
