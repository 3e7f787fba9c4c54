/**
 * `bptt eval`: mean loss, bits per character and perplexity of a model on a text file.
 */
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { evaluateIds } from "../../model/evaluate.ts";
import { modelVocab } from "../../model/language-model.ts";
import { tableDefaults, withDefaults, type FlaggedTable } from "../../option-table.ts";
import type { Command } from "../args.ts";
import { bar, readProgress, StatusLine } from "../progress.ts";
import { optionsFromFlags, required, schemaFlags } from "../schema-flags.ts";
import { MODEL_FILE, readData, warnIfPortableKernels } from "./shared.ts";

/** The options of `bptt eval`. */
const EVAL_SCHEMA = {
  model: MODEL_FILE,
  data: { kind: "text", flag: "data", scope: "session", value: "FILE", help: "UTF-8 text to evaluate on (required), or synthetic:copy:LAG[:SEED] (then also the share of recalls predicted right)" },
  skipUnknown: { kind: "flag", flag: "skip-unknown", scope: "session", default: false, help: "drop characters that are not in the model's vocabulary" },
  json: { kind: "flag", flag: "json", scope: "session", default: false, help: 'print {"loss", "bpc", "perplexity", "chars"} as JSON (and "accuracy" for the copy task)' },
} as const satisfies FlaggedTable;

export const evalCommand: Command = {
  name: "eval",
  summary: "loss, bits per char and perplexity of a model on a text file",
  usage: "--model MODEL.safetensors --data FILE [--json] [--skip-unknown]",
  description: `
Runs the model over the whole file in order, the hidden state carried from character to
character, and reports the mean loss in nats per predicted character (every character but the
first is predicted), bits per character (loss / ln 2) and perplexity (e^loss).

Example:
  bptt eval --model model.safetensors --data held-out.txt --json`,
  options: schemaFlags(EVAL_SCHEMA),
  run(values, io) {
    const o = withDefaults(tableDefaults(EVAL_SCHEMA), optionsFromFlags(values, EVAL_SCHEMA));
    const model = loadCheckpoint(required(o.model, EVAL_SCHEMA.model.flag));
    warnIfPortableKernels(io);
    const dataPath = required(o.data, EVAL_SCHEMA.data.flag);
    const status = new StatusLine(io, 10);
    // the file as ids in the model's vocabulary, read in chunks: it may be larger than a string can be
    const { corpus: { ids }, recalls } = readData(dataPath, {
      symbols: modelVocab(model).symbols,
      skipUnknown: o.skipUnknown,
      onProgress: readProgress(status, dataPath),
    });
    const result = evaluateIds(model, ids, {
      onProgress: (f) => status.update(`evaluating ${bar(f)} ${(f * 100).toFixed(0)}%`),
      ...(recalls === undefined ? {} : { accuracyAt: recalls }), // the copy task: how often the recall is the most likely symbol
    });
    status.finish();
    if (o.json) {
      io.stdout(`${JSON.stringify(result)}\n`);
    } else {
      io.stdout(
        `${dataPath}: ${result.chars} characters predicted\n` +
          `loss ${result.loss.toFixed(4)} nats/char, ${result.bpc.toFixed(4)} bits/char, perplexity ${result.perplexity.toFixed(3)}\n` +
          (result.accuracy === undefined ? "" : `recalls: ${(100 * result.accuracy.share).toFixed(1)} % of ${result.accuracy.count} predicted right\n`),
      );
    }
    return 0;
  },
};
