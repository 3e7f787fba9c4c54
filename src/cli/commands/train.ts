/**
 * `bptt train`: train a character-level RNN on a text file (the bundled Shakespeare by default),
 * with live progress, periodic validation, samples and checkpoints, Ctrl-C safe, exactly resumable.
 */
import { fileURLToPath } from "node:url";
import { readTextFile } from "../../data/node-files.ts";
import { loadCheckpoint, saveCheckpoint } from "../../io/checkpoint-file.ts";
import { sample } from "../../model/sample.ts";
import { OPTIMIZERS, SCHEDULES, type OptimizerName, type ScheduleKind } from "../../train/optimizers.ts";
import { train, TRAIN_DEFAULTS, type TrainEvent, type TrainOptions } from "../../train/trainer.ts";
import { MAX_HIDDEN, MAX_LAYERS } from "../../model/config.ts";
import { choiceOption, intOption, numberOption, stringOption, UsageError, type Command, type ParsedValues } from "../args.ts";
import { bar, formatCount, formatDuration, StatusLine } from "../progress.ts";
import { cellFromArgs, checkOverwrite, MODEL_SHAPE_OPTIONS } from "./shared.ts";

/** The bundled default corpus (tiny Shakespeare), relative to this file in src/ and in dist/. */
export const DEFAULT_CORPUS = fileURLToPath(new URL("../../../data/tinyshakespeare.txt", import.meta.url));
/** Where a new run writes its checkpoint unless --out says otherwise. */
const DEFAULT_OUT = "model.safetensors";
/** Temperatures of the samples printed at the end of a run. */
const FINAL_TEMPERATURES = [0.5, 1.0];

export const trainCommand: Command = {
  name: "train",
  summary: "train a character-level RNN on a text file (default: bundled Shakespeare)",
  usage: "[--data FILE] [--steps N | --epochs N | --time SECONDS] [--out MODEL.safetensors] [options]",
  description: `
Trains with truncated BPTT: --batch-size parallel streams through the text, each chunk of
--seq-length steps starting from the hidden state where the previous chunk ended. The first
(1 - val-fraction) of the text trains, the rest validates. Losses are in nats per character.

Progress goes to stderr; --json writes one JSON object per event (step, eval, sample,
checkpoint, done) to stdout. Ctrl-C finishes the current step, writes a checkpoint and exits 0;
--resume continues exactly where a checkpoint stopped (same data; --steps and --epochs count
from the start of the original run). Without --steps/--epochs/--time it trains until Ctrl-C.

Examples:
  bptt train --time 600                       # 10 minutes on the bundled Shakespeare
  bptt train --data my.txt --hidden 128 --epochs 5 --out my.safetensors
  bptt train --resume my.safetensors --data my.txt --epochs 10`,
  options: {
    data: { type: "string", value: "FILE", help: "UTF-8 training text (default: bundled tiny Shakespeare, 1.1 MB)" },
    ...MODEL_SHAPE_OPTIONS,
    hidden: { type: "string", value: "H", help: `hidden units per layer (default ${TRAIN_DEFAULTS.hiddenSize})` },
    "seq-length": { type: "string", value: "T", help: `BPTT steps per chunk (default ${TRAIN_DEFAULTS.seqLength})` },
    "batch-size": { type: "string", value: "B", help: `parallel streams (default ${TRAIN_DEFAULTS.batchSize})` },
    steps: { type: "string", value: "N", help: "stop after N updates in total" },
    epochs: { type: "string", value: "N", help: "stop after N passes over the training text in total" },
    time: { type: "string", value: "SECONDS", help: "finish within this much wall-clock time, validation and the final checkpoint included" },
    optimizer: { type: "string", value: "NAME", help: `${OPTIMIZERS.join(" | ")} (default ${TRAIN_DEFAULTS.optimizer})` },
    lr: { type: "string", value: "RATE", help: "learning rate (default: adam/rmsprop 2e-3, adagrad 0.1, sgd 0.1, momentum 0.01)" },
    dropout: { type: "string", value: "P", help: "dropout on every layer's output but the last (PyTorch's; needs --layers 2+), training only (default 0)" },
    "output-dropout": { type: "string", value: "P", help: "dropout on the last layer's output before the output layer (char-rnn's), training only (default 0)" },
    "weight-decay": { type: "string", value: "L", help: "weight decay on the weight matrices, not the biases: AdamW's for adam, L2 for the others (default 0)" },
    "lr-schedule": { type: "string", value: "S", help: "step (--lr-decay every --lr-decay-every steps) | cosine (to --lr-min by --cosine-steps) (default step)" },
    warmup: { type: "string", value: "N", help: "linear warm-up of the learning rate over the first N steps (default 0)" },
    "cosine-steps": { type: "string", value: "N", help: "cosine: the step where the rate reaches its floor (default --steps)" },
    "lr-min": { type: "string", value: "F", help: "cosine: the floor, a fraction of --lr (default 0.1)" },
    "lr-decay": { type: "string", value: "F", help: "multiply the learning rate by F every --lr-decay-every steps (default 1: none)" },
    "lr-decay-every": { type: "string", value: "N", help: "steps between decays (default 1000)" },
    clip: { type: "string", value: "C", help: "clip every gradient element to [-C, C] (default off)" },
    "clip-norm": { type: "string", value: "C", help: `rescale the gradient to global norm C when larger (default ${TRAIN_DEFAULTS.clipNorm}; 0 = off)` },
    "init-scale": { type: "string", value: "S", help: "uniform init half-width (default 1/sqrt(H))" },
    "forget-bias": { type: "string", value: "B", help: "LSTM: start the forget gate's bias at B, e.g. 1 (default: PyTorch's uniform init)" },
    seed: { type: "string", value: "N", help: `random seed of the init and samples (default ${TRAIN_DEFAULTS.seed})` },
    "val-fraction": { type: "string", value: "F", help: `held-out fraction at the end of the text (default ${TRAIN_DEFAULTS.valFraction})` },
    "val-chars": { type: "string", value: "N", help: "validate on the first N characters of the held-out part only (default: all of it)" },
    "keep-best": { type: "boolean", help: "also write the checkpoint with the lowest validation loss, to OUT.best.safetensors" },
    patience: { type: "string", value: "N", help: "stop after N validations in a row without a new lowest loss (default 0: never)" },
    "eval-every": { type: "string", value: "N", help: `steps between validation passes (default ${TRAIN_DEFAULTS.evalEvery}; 0 = at the end)` },
    "sample-every": { type: "string", value: "N", help: "steps between samples (default 0: only at the end)" },
    "checkpoint-every": { type: "string", value: "N", help: `steps between checkpoints (default ${TRAIN_DEFAULTS.checkpointEvery}; 0 = at the end)` },
    out: { type: "string", value: "FILE", help: `checkpoint file (default ${DEFAULT_OUT}, or the --resume file)` },
    resume: { type: "string", value: "FILE", help: "continue training from this checkpoint" },
    force: { type: "boolean", help: "let a new run overwrite an existing --out file" },
    threads: { type: "string", value: "N", help: "threads for the training step, data-parallel over the batch (default: the number of cores; fewer where more do not pay, e.g. --batch-size 1)" },
    json: { type: "boolean", help: "JSON events on stdout" },
  },
  async run(values, io) {
    const dataPath = stringOption(values, "data") ?? DEFAULT_CORPUS;
    const resumePath = stringOption(values, "resume");
    const out = stringOption(values, "out") ?? resumePath ?? DEFAULT_OUT;
    if (resumePath === undefined || out !== resumePath) checkOverwrite(out, values["force"] === true);
    const options: TrainOptions = {
      text: readTextFile(dataPath),
      ...trainOptionsFromArgs(values),
      ...(resumePath === undefined ? {} : { resume: loadCheckpoint(resumePath) }),
    };
    const json = values["json"] === true;
    const bestPath = `${out.replace(/\.safetensors$/, "")}.best.safetensors`;
    if (options.keepBest === true && resumePath === undefined) checkOverwrite(bestPath, values["force"] === true);
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

    const status = new StatusLine(io);
    let lastVal: number | undefined;
    status.print(
      `training on ${dataPath === DEFAULT_CORPUS ? "the bundled tiny Shakespeare" : dataPath}` +
        `${resumePath === undefined ? "" : `, resuming ${resumePath}`}; checkpoints go to ${out}` +
        `${options.steps === undefined && options.epochs === undefined && options.timeSeconds === undefined ? "; no budget given: press Ctrl-C to stop" : ""}`,
    );
    try {
      const result = await train(options, {
        shouldStop: () => stopRequested,
        save: (ckpt, reason) => saveCheckpoint(reason === "best" ? bestPath : out, ckpt),
        onStep: (e) => {
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
      const samples = FINAL_TEMPERATURES.map((temperature) => ({
        temperature,
        text: sample(checkpoint, { length: 300, temperature, seed: TRAIN_DEFAULTS.seed }),
      }));
      emit({
        type: "done", step: result.step, valLoss: result.valLoss ?? null, best: result.best ?? null, trainLoss: result.trainLoss, stoppedBy: result.stoppedBy,
        tokensPerSec: result.tokensPerSec, threads: result.threads, elapsed: result.elapsed, out, ...(options.keepBest === true ? { bestPath } : {}), samples,
      });
      const valText = result.valLoss === undefined ? "no validation split" : `validation loss ${result.valLoss.toFixed(4)} nats/char (${(result.valLoss / Math.LN2).toFixed(3)} bpc)`;
      const why = result.stoppedBy === "patience" ? ` (no better validation in ${options.patience ?? 0} passes)` : "";
      const lines = [
        `${result.stoppedBy === "interrupt" ? "interrupted" : "done"} after ${result.step} steps${why} (${formatDuration(result.elapsed)}, ${formatCount(result.tokensPerSec)} char/s${result.threads > 1 ? `, ${result.threads} threads` : ""}): ${valText}, train loss ${result.trainLoss.toFixed(4)}`,
        ...(result.best === undefined ? [] : [`best validation loss ${result.best.valLoss.toFixed(4)} at step ${result.best.step}${options.keepBest === true ? `: ${bestPath}` : ""}`]),
        `checkpoint: ${out}`,
      ];
      for (const s of samples) lines.push(`--- sample, temperature ${s.temperature} ---`, s.text, "---");
      if (result.stoppedBy === "interrupt") {
        lines.push(`resume with: bptt train --resume ${out}${dataPath === DEFAULT_CORPUS ? "" : ` --data ${dataPath}`}`);
      } else {
        lines.push(`more text: bptt sample --model ${out} --temperature 0.8`);
      }
      io.stderr(`${lines.join("\n")}\n`);
      return 0;
    } finally {
      status.finish();
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    }
  },
};

/** TrainOptions from flags; absent flags stay absent so the trainer (or the resumed checkpoint) decides. */
function trainOptionsFromArgs(values: ParsedValues): Omit<TrainOptions, "text" | "resume"> {
  const has = (name: string): boolean => stringOption(values, name) !== undefined;
  const int = (name: string, min: number, max: number): number => intOption(values, name, 0, min, max);
  const num = (name: string, min: number, max: number): number => numberOption(values, name, 0, min, max);
  const probability = (name: string): number => {
    const p = num(name, 0, 1);
    if (p === 1) throw new UsageError(`--${name} must be a probability in [0, 1); received 1 (it would drop everything)`);
    return p;
  };
  const options: { -readonly [K in keyof TrainOptions]?: TrainOptions[K] } = {};
  const set = <K extends keyof TrainOptions>(key: K, flag: string, read: () => NonNullable<TrainOptions[K]>): void => {
    if (has(flag)) options[key] = read();
  };
  const { cell, nonlinearity } = cellFromArgs(values);
  set("cell", "cell", () => cell);
  set("hiddenSize", "hidden", () => int("hidden", 1, MAX_HIDDEN));
  set("layers", "layers", () => int("layers", 1, MAX_LAYERS));
  set("nonlinearity", "nonlinearity", () => nonlinearity);
  if (values["no-bias"] === true) options["bias"] = false;
  set("seqLength", "seq-length", () => int("seq-length", 1, 100_000));
  set("batchSize", "batch-size", () => int("batch-size", 1, 100_000));
  set("steps", "steps", () => int("steps", 0, Number.MAX_SAFE_INTEGER));
  set("epochs", "epochs", () => num("epochs", 1e-9, 1e9));
  set("timeSeconds", "time", () => num("time", 1e-3, 1e9));
  set("optimizer", "optimizer", () => choiceOption<OptimizerName>(values, "optimizer", OPTIMIZERS, "adam"));
  set("lr", "lr", () => num("lr", 1e-12, 1e3));
  set("weightDecay", "weight-decay", () => num("weight-decay", 0, 1e3));
  set("dropout", "dropout", () => probability("dropout"));
  set("outputDropout", "output-dropout", () => probability("output-dropout"));
  set("lrSchedule", "lr-schedule", () => choiceOption<ScheduleKind>(values, "lr-schedule", SCHEDULES, "step"));
  set("warmup", "warmup", () => int("warmup", 0, Number.MAX_SAFE_INTEGER));
  set("cosineSteps", "cosine-steps", () => int("cosine-steps", 1, Number.MAX_SAFE_INTEGER));
  set("minLrFraction", "lr-min", () => num("lr-min", 0, 1));
  set("lrDecay", "lr-decay", () => num("lr-decay", 1e-9, 1));
  set("lrDecayEvery", "lr-decay-every", () => int("lr-decay-every", 1, Number.MAX_SAFE_INTEGER));
  set("clip", "clip", () => num("clip", 0, 1e9));
  set("clipNorm", "clip-norm", () => num("clip-norm", 0, 1e9));
  set("initScale", "init-scale", () => num("init-scale", 0, 1e3));
  set("forgetBias", "forget-bias", () => num("forget-bias", -1e3, 1e3));
  set("seed", "seed", () => int("seed", 0, 2 ** 32 - 1));
  set("valFraction", "val-fraction", () => num("val-fraction", 0, 0.5));
  set("valChars", "val-chars", () => int("val-chars", 2, Number.MAX_SAFE_INTEGER));
  set("patience", "patience", () => int("patience", 0, Number.MAX_SAFE_INTEGER));
  if (values["keep-best"] === true) options["keepBest"] = true;
  set("evalEvery", "eval-every", () => int("eval-every", 0, Number.MAX_SAFE_INTEGER));
  set("sampleEvery", "sample-every", () => int("sample-every", 0, Number.MAX_SAFE_INTEGER));
  set("checkpointEvery", "checkpoint-every", () => int("checkpoint-every", 0, Number.MAX_SAFE_INTEGER));
  set("threads", "threads", () => int("threads", 1, 1024));
  return options;
}
