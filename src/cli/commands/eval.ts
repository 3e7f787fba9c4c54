/**
 * `bptt eval`: mean loss, bits per character and perplexity of a model on a text file.
 */
import { readCorpusFile } from "../../data/node-files.ts";
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { evaluateIds } from "../../model/evaluate.ts";
import { modelVocab } from "../../model/language-model.ts";
import { requiredString, type Command } from "../args.ts";
import { bar, readProgress, StatusLine } from "../progress.ts";
import { warnIfPortableKernels } from "./shared.ts";

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
  options: {
    model: { type: "string", value: "FILE", help: "model checkpoint (required)" },
    data: { type: "string", value: "FILE", help: "UTF-8 text to evaluate on (required)" },
    "skip-unknown": { type: "boolean", help: "drop characters that are not in the model's vocabulary" },
    json: { type: "boolean", help: 'print {"loss", "bpc", "perplexity", "chars"} as JSON' },
  },
  run(values, io) {
    const model = loadCheckpoint(requiredString(values, "model"));
    warnIfPortableKernels(io);
    const dataPath = requiredString(values, "data");
    const status = new StatusLine(io, 10);
    // the file as ids in the model's vocabulary, read in chunks: it may be larger than a string can be
    const { ids } = readCorpusFile(dataPath, {
      symbols: modelVocab(model).symbols,
      skipUnknown: values["skip-unknown"] === true,
      onProgress: readProgress(status, dataPath),
    });
    const result = evaluateIds(model, ids, {
      onProgress: (f) => status.update(`evaluating ${bar(f)} ${(f * 100).toFixed(0)}%`),
    });
    status.finish();
    if (values["json"] === true) {
      io.stdout(`${JSON.stringify(result)}\n`);
    } else {
      io.stdout(
        `${dataPath}: ${result.chars} characters predicted\n` +
          `loss ${result.loss.toFixed(4)} nats/char, ${result.bpc.toFixed(4)} bits/char, perplexity ${result.perplexity.toFixed(3)}\n`,
      );
    }
    return 0;
  },
};
