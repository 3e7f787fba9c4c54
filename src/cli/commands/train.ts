/**
 * `bptt train`: train a character-level RNN on a text file (the bundled Shakespeare by default),
 * with live progress, periodic validation, samples and checkpoints, Ctrl-C safe, exactly resumable.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BpttError, CheckpointError } from "../../errors.ts";
import { FileWriteError } from "../../io/atomic.ts";
import { loadCheckpoint, saveCheckpoint } from "../../io/checkpoint-file.ts";
import { sample, SAMPLE_DEFAULTS } from "../../model/sample.ts";
import { keysWhere, pick, tableDefaults, withDefaults, type FlaggedTable, type OptionScope } from "../../option-table.ts";
import { TRAIN_SCHEMA, type SchemaKey } from "../../train/schema.ts";
import { checkpointStep, type RunCadence, type SettingChange } from "../../train/run-state.ts";
import { train, TRAIN_DEFAULTS, type CheckpointEvent, type StartEvent, type TrainEvent, type TrainOptions } from "../../train/trainer.ts";
import { UsageError, type Command } from "../args.ts";
import { bar, formatCount, formatDuration, readProgress, StatusLine } from "../progress.ts";
import { optionsFromFlags, schemaFlags } from "../schema-flags.ts";
import { checkCellNonlinearity, prepareOutput, readData, warnIfPortableKernels } from "./shared.ts";

/** The bundled default corpus (tiny Shakespeare), relative to this file in src/ and in dist/. */
export const DEFAULT_CORPUS = fileURLToPath(new URL("../../../data/tinyshakespeare.txt", import.meta.url));

/** The options of `bptt train`: every option of the training table (src/train/schema.ts), and the command's own. */
const TRAIN_COMMAND_SCHEMA = {
  data: { kind: "text", flag: "data", scope: "session", value: "FILE", help: "UTF-8 training text (default: bundled tiny Shakespeare, 1.1 MB), or synthetic:copy:LAG[:SEED], the copy task: a symbol to recall LAG steps later" },
  ...TRAIN_SCHEMA,
  out: { kind: "text", flag: "out", scope: "session", value: "FILE", default: "model.safetensors", help: "checkpoint file (default {default}, or the --resume file)" },
  resume: { kind: "text", flag: "resume", scope: "session", value: "FILE", help: "continue training from this checkpoint" },
  skipUnknown: { kind: "flag", flag: "skip-unknown", scope: "session", default: false, help: "with --resume: drop characters of --data that are not in the checkpoint's vocabulary" },
  force: { kind: "flag", flag: "force", scope: "session", default: false, help: "let a new run overwrite an existing --out file" },
  json: { kind: "flag", flag: "json", scope: "session", default: false, help: "JSON events on stdout" },
} as const satisfies FlaggedTable;

/** The options of a run, every one a flag of `bptt train`. */
const TRAIN_KEYS = Object.keys(TRAIN_SCHEMA) as SchemaKey[];
/** The options of a run's cadence. */
const CADENCE_KEYS = keysWhere(TRAIN_SCHEMA, { group: "cadence" });

/**
 * The samples printed at the end of a run: `generate`'s defaults (SAMPLE_SCHEMA: its seed), but
 * longer, and at a conservative temperature besides the default one.
 */
const FINAL_SAMPLES = [0.5, SAMPLE_DEFAULTS.temperature].map((temperature) => ({ length: 300, temperature }));

export const trainCommand: Command = {
  name: "train",
  summary: "train a character-level RNN on a text file (default: bundled Shakespeare)",
  usage: "[--data FILE] [--steps N | --epochs N | --time SECONDS] [--out MODEL.safetensors] [options]",
  description: `
Trains with truncated BPTT: --batch-size parallel streams through the text, each chunk of
--seq-length steps starting from the hidden state where the previous chunk ended. The first
(1 - val-fraction) of the text trains, the rest validates. Losses are in nats per character.

Progress goes to stderr; --json writes one JSON object per event (step, eval, sample,
checkpoint, done; error when the run fails, e.g. a checkpoint that cannot be written) to stdout. Ctrl-C (or a --json reader that goes away, as in | head) finishes
the current step, writes a checkpoint and exits 0; --resume continues exactly where a checkpoint stopped (same data; --steps and --epochs count
from the start of the original run). Without --steps/--epochs/--time it trains until Ctrl-C.

${resumeRules()}

The output is checked before any work: missing directories of --out are made (as mkdir -p), and
a path that cannot be written, an existing file (without --force) or an input is refused at once.
Checkpoints replace the file atomically: a hard kill (SIGKILL, power loss) loses only the steps
since the last checkpoint written, and a temporary file it leaves is removed by the next write.
A checkpoint that cannot be written (a full disk) stops the run with exit code 1 and a message
saying which step the file on disk holds and how to resume.

Examples:
  bptt train --time 600                       # 10 minutes on the bundled Shakespeare
  bptt train --data my.txt --hidden 128 --epochs 5 --out my.safetensors
  bptt train --resume my.safetensors --data my.txt --epochs 10
  bptt train --resume my.safetensors --data new.txt --skip-unknown --steps 20000   # go on with another text`,
  options: schemaFlags(TRAIN_COMMAND_SCHEMA),
  async run(values, io) {
    const given = optionsFromFlags(values, TRAIN_COMMAND_SCHEMA);
    // the run's options as given: absent ones stay absent, so the trainer (or the resumed checkpoint) decides
    const flags = pick(given, TRAIN_KEYS);
    // --nonlinearity other than tanh with a gated cell: a usage error that says why
    checkCellNonlinearity(flags.cell ?? TRAIN_DEFAULTS.cell, flags.nonlinearity ?? TRAIN_DEFAULTS.nonlinearity);
    const { skipUnknown, force, json } = withDefaults(tableDefaults(TRAIN_COMMAND_SCHEMA), given);
    const dataPath = given.data ?? DEFAULT_CORPUS;
    const resumePath = given.resume;
    const out = given.out ?? resumePath ?? TRAIN_COMMAND_SCHEMA.out.default;
    // a resumed run replaces its own checkpoint; it reads the one it resumes, and the text
    const continuing = resumePath !== undefined && resolve(out) === resolve(resumePath);
    const inputs = [dataPath, ...(resumePath === undefined || continuing ? [] : [resumePath])];
    prepareOutput(out, { flag: "--out", overwrite: force || continuing, inputs });
    if (skipUnknown && resumePath === undefined) {
      throw new UsageError("--skip-unknown needs --resume: a new run's vocabulary is made from its text, so no character of it is unknown");
    }
    const resume = resumePath === undefined ? undefined : loadCheckpoint(resumePath);
    const resumeStep = resume === undefined ? undefined : checkpointStep(resume);
    const status = new StatusLine(io);
    // read as ids, in chunks (a corpus may be larger than a string can be); a resumed run's
    // vocabulary is its checkpoint's, so one pass over the file does
    const { corpus: text } = readData(dataPath, {
      ...(resume?.vocab === undefined ? {} : { symbols: resume.vocab, skipUnknown }),
      onProgress: readProgress(status, dataPath === DEFAULT_CORPUS ? "the bundled tiny Shakespeare" : dataPath),
    });
    const options: TrainOptions = { text, ...flags, ...(resume === undefined ? {} : { resume }) };
    const bestPath = `${out.replace(/\.safetensors$/, "")}.best.safetensors`;
    // a resumed run's best file is its own (and lies beside --out, checked above)
    if (flags.keepBest === true && resumePath === undefined) prepareOutput(bestPath, { flag: "--keep-best", overwrite: force, inputs });
    const emit = (event: TrainEvent | Record<string, unknown>): void => {
      if (json) io.stdout(`${JSON.stringify(event)}\n`);
    };

    // Ctrl-C / SIGTERM: finish the step, save, exit 0. A second signal aborts at once.
    let stopRequested = false;
    const onSignal = (signal: string): void => {
      if (stopRequested) {
        io.stderr(`\n${signal} again: aborting without a new checkpoint (${out} holds the last one written)\n`);
        process.exit(130);
      }
      stopRequested = true;
      status.print(`${signal}: finishing the current step and writing ${out} (press Ctrl-C again to abort)`);
    };
    const onInt = (): void => onSignal("interrupt");
    const onTerm = (): void => onSignal("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);

    // for the message when a checkpoint cannot be written: the step being trained, what each file holds
    let step = resumeStep ?? 0;
    const written = new Map<string, number>();
    // the checkpoint keeps the run's settings (src/train/schema.ts: scope), so the text is all a resume needs besides
    const resumeCommand = (from: string, extra = ""): string =>
      `bptt train --resume ${shellWord(from)}${extra}${dataPath === DEFAULT_CORPUS ? "" : ` --data ${shellWord(dataPath)}`}`;
    /** The run's cadences (a resumed run's own, unless given anew), known from its start event. */
    let cadence: RunCadence = pick(TRAIN_DEFAULTS, CADENCE_KEYS);
    /** The step `path` holds: this run's last write there, else the step it resumed from, else undefined. */
    const stepOnDisk = (path: string): number | undefined => written.get(path) ?? (path === resumePath ? resumeStep : undefined);
    const holds = (path: string): string => {
      const s = stepOnDisk(path);
      return s !== undefined ? `holds step ${s}` : existsSync(path) ? "holds what it held before this run" : "does not exist";
    };
    /** A checkpoint write failed: stop the run (nothing later could be written either), saying what is on disk and what to do. */
    const saveFailure = (e: FileWriteError, path: string, reason: CheckpointEvent["reason"]): CheckpointError => {
      const what = {
        every: `the periodic checkpoint, --checkpoint-every ${cadence.checkpointEvery}`, end: "the final checkpoint",
        interrupt: "the checkpoint of the interrupt", best: "the checkpoint of a new lowest validation loss, --keep-best",
      }[reason];
      const onDisk = existsSync(path) ? `${path} is untouched and ${holds(path)}` : `${path} was not created`;
      const other = path === out ? "" : `; ${out} ${holds(out)}`;
      const fix = e.code === "ENOSPC" || e.code === "EDQUOT" ? "Free some space, then" : "Once that is fixed,";
      const outStep = stepOnDisk(out);
      const next = outStep !== undefined
        ? `resume with: ${resumeCommand(out)} (add --out FILE to continue on another disk)`
        : resumePath !== undefined && resumeStep !== undefined
          ? `resume from step ${resumeStep} again with: ${resumeCommand(resumePath, ` --out ${shellWord(out)}`)}`
          : "start the run again: nothing of it was saved";
      // the final checkpoint (or the interrupt's) ends the run anyway; a periodic or best one stops it: every later write needs the same room
      const stopped = reason === "every" || reason === "best" ? " Training stopped there, since no later checkpoint could be written either." : "";
      return new CheckpointError(`cannot write ${path} at step ${step} (${what}): ${e.problem}.${stopped} ${onDisk}${other}. ${fix} ${next}`);
    };

    /** A failure other than a checkpoint write: what is on disk, and how to go on from it. */
    const afterFailure = (): string => {
      const outStep = stepOnDisk(out);
      if (outStep !== undefined) return ` ${out} holds step ${outStep}; resume with: ${resumeCommand(out)}`;
      return resumePath === undefined ? " Nothing of this run was saved." : ` ${resumePath} is untouched.`;
    };

    let lastVal: number | undefined;
    warnIfPortableKernels(io);
    let started = false;
    const onStart = (e: StartEvent): void => {
      started = true;
      emit(e);
      ({ cadence } = e);
      const { steps, epochs, timeSeconds } = e.budget;
      status.print(
        `training on ${dataPath === DEFAULT_CORPUS ? "the bundled tiny Shakespeare" : dataPath}` +
          `${resumePath === undefined ? "" : `, resuming ${resumePath} at step ${e.step}`}; checkpoints go to ${out}` +
          `${steps === undefined && epochs === undefined && timeSeconds === undefined ? "; no budget given: press Ctrl-C to stop" : ""}`,
      );
      if (e.changes.length > 0) status.print(`set anew for this run: ${e.changes.map(describeChange).join(", ")}`);
    };
    try {
      const result = await train(options, {
        onStart,
        // a --json reader that went away ends the run as Ctrl-C does: the step finishes and is saved
        shouldStop: () => stopRequested || (json && io.stdoutClosed?.() === true),
        save: (ckpt, reason) => {
          const path = reason === "best" ? bestPath : out;
          try {
            saveCheckpoint(path, ckpt);
          } catch (e) {
            throw e instanceof FileWriteError ? saveFailure(e, path, reason) : e;
          }
          written.set(path, step);
        },
        onStep: (e) => {
          step = e.step;
          emit(e);
          const budget = e.progress === undefined ? "" : `${bar(e.progress)} ${(e.progress * 100).toFixed(0)}% `;
          const eta = e.eta === undefined ? "" : `, ETA ${formatDuration(e.eta)}`;
          const val = lastVal === undefined ? "" : ` val ${lastVal.toFixed(3)}`;
          status.update(
            `${budget}step ${e.step} epoch ${e.epoch.toFixed(2)} | loss ${e.smoothLoss.toFixed(3)}${val} | ` +
              `${formatCount(e.tokensPerSec)} char/s${e.threads > 1 ? ` (${e.threads} threads)` : ""} | ${formatDuration(e.elapsed)}${eta}`,
          );
        },
        onEvalProgress: (step, f) => status.update(`step ${step}: validating ${bar(f)} ${(f * 100).toFixed(0)}%`),
        onEval: (e) => {
          emit(e);
          lastVal = e.valLoss;
          status.print(`step ${e.step}: validation loss ${e.valLoss.toFixed(4)} nats/char (${e.valBpc.toFixed(3)} bpc), train ${e.trainLoss.toFixed(4)}`);
        },
        onSample: (e) => {
          emit(e);
          status.print(`--- sample at step ${e.step} (temperature ${e.temperature}) ---\n${e.text}\n---`);
        },
        onCheckpoint: (e) => emit({ ...e, path: e.reason === "best" ? bestPath : out }),
      });
      status.finish();
      const { checkpoint } = result;
      const samples = FINAL_SAMPLES.map((options) => ({ temperature: options.temperature, text: sample(checkpoint, options) }));
      emit({
        type: "done", step: result.step, valLoss: result.valLoss ?? null, best: result.best ?? null, trainLoss: result.trainLoss, stoppedBy: result.stoppedBy,
        tokensPerSec: result.tokensPerSec, threads: result.threads, elapsed: result.elapsed, out, ...(cadence.keepBest ? { bestPath } : {}), samples,
      });
      const valText = result.valLoss === undefined ? "no validation split" : `validation loss ${result.valLoss.toFixed(4)} nats/char (${(result.valLoss / Math.LN2).toFixed(3)} bpc)`;
      const why = result.stoppedBy === "patience" ? ` (no better validation in ${cadence.patience} passes)` : "";
      const lines = [
        `${result.stoppedBy === "interrupt" ? "interrupted" : "done"} after ${result.step} steps${why} (${formatDuration(result.elapsed)}, ${formatCount(result.tokensPerSec)} char/s${result.threads > 1 ? `, ${result.threads} threads` : ""}): ${valText}, train loss ${result.trainLoss.toFixed(4)}`,
        ...(result.best === undefined ? [] : [`best validation loss ${result.best.valLoss.toFixed(4)} at step ${result.best.step}${cadence.keepBest ? `: ${bestPath}` : ""}`]),
        `checkpoint: ${out}`,
      ];
      for (const s of samples) lines.push(`--- sample, temperature ${s.temperature} ---`, s.text, "---");
      if (result.stoppedBy === "interrupt") {
        lines.push(`resume with: ${resumeCommand(out)}`);
      } else {
        lines.push(`more text: bptt sample --model ${out} --temperature 0.8`);
      }
      io.stderr(`${lines.join("\n")}\n`);
      return 0;
    } catch (e) {
      // a --json reader learns from the stream itself why the run ended (the message also goes to stderr, exit 1)
      if (!(e instanceof BpttError)) throw e;
      // a failed checkpoint write says itself what is on disk; any other failure is told here
      if (started && !(e instanceof CheckpointError && e.message.startsWith("cannot write "))) e.message = `${e.message.replace(/\.$/, "")}.${afterFailure()}`;
      emit({ type: "error", step, error: e.name, message: e.message });
      throw e;
    } finally {
      status.finish();
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    }
  },
};

/** The words of --help for what a resumed run does with each option, from the option table's scopes. */
function resumeRules(): string {
  const flags = (...scopes: OptionScope[]): string =>
    Object.values(TRAIN_SCHEMA).filter((d) => scopes.includes(d.scope)).map((d) => `--${d.flag}`).join(", ");
  return `With --resume, the model's shape is the checkpoint's, and so are ${flags("run")}: another value is refused,
as are ${flags("init")} (they set a new run's initial weights). The other settings are the run's own,
kept in the checkpoint (a resume after a crash goes on as the run was started); one given again
replaces the kept value, and the run says so. Any of --steps, --epochs, --time replaces the budget.`;
}

/** One changed setting, e.g. "--eval-every 100 (was 500)". */
function describeChange(c: SettingChange): string {
  const def = TRAIN_SCHEMA[c.option];
  const shown = (v: unknown): string => (v === undefined ? "none" : String(v));
  return `--${def.flag} ${shown(c.now)} (was ${shown(c.was)})`;
}

/** A path as one shell word: as it is when plain, else in single quotes. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
