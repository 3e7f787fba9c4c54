/**
 * `bptt sample`: generate text from a trained model, streamed to stdout as it is produced.
 */
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { generate } from "../../model/sample.ts";
import { intOption, numberOption, requiredString, stringOption, UsageError, type Command, type ParsedValues } from "../args.ts";
import { warnIfPortableKernels } from "./shared.ts";

export const sampleCommand: Command = {
  name: "sample",
  summary: "generate text from a trained model",
  usage: "--model MODEL.safetensors [--length N] [--temperature T] [--top-k K] [--top-p P] [--stop TEXT] [--prime TEXT] [--seed N]",
  description: `
Reads --prime with the network (default: a newline), then draws one character at a time from
softmax(logits / temperature) and writes it to stdout as soon as it is drawn.
Temperature 0 always takes the most likely character; below 1 is more conservative, above 1 wilder.
--top-k K and --top-p P (nucleus sampling: the most likely characters whose probabilities add up
to at least P) cut off the unlikely tail. --stop TEXT ends the sample right after TEXT appears.

Example:
  bptt sample --model model.safetensors --prime "ROMEO:" --temperature 0.7 --length 1000`,
  options: {
    model: { type: "string", value: "FILE", help: "model checkpoint (required)" },
    length: { type: "string", value: "N", help: "characters to generate (default 500)" },
    temperature: { type: "string", value: "T", help: "softmax temperature >= 0 (default 1; 0 = argmax)" },
    "top-k": { type: "string", value: "K", help: "draw only among the K most likely characters (default 0: all)" },
    "top-p": { type: "string", value: "P", help: "draw only among the most likely characters that make up probability P, in (0, 1] (default 1: all)" },
    stop: { type: "string", value: "TEXT", help: "end the sample right after TEXT (e.g. $'\\n\\n'); --length still caps it" },
    prime: { type: "string", value: "TEXT", help: "text to read before generating (default: a newline)" },
    "skip-unknown": { type: "boolean", help: "drop prime characters that are not in the vocabulary" },
    seed: { type: "string", value: "N", help: "random seed (default 1)" },
  },
  run(values, io) {
    const model = loadCheckpoint(requiredString(values, "model"));
    warnIfPortableKernels(io);
    const prime = stringOption(values, "prime");
    const stop = stringOption(values, "stop");
    const chars = generate(model, {
      length: intOption(values, "length", 500, 0, 100_000_000),
      temperature: numberOption(values, "temperature", 1, 0, 100),
      topK: intOption(values, "top-k", 0, 0, model.config.vocabSize),
      topP: topP(values),
      ...(stop === undefined || stop === "" ? {} : { stop }),
      seed: intOption(values, "seed", 1, 0, 2 ** 32 - 1),
      skipUnknown: values["skip-unknown"] === true,
      ...(prime === undefined ? {} : { prime }),
    });
    // Stream in small pieces: visible progress without a write call per character.
    let buffered = "";
    let last = performance.now();
    for (const c of chars) {
      buffered += c;
      if (buffered.length >= 256 || performance.now() - last > 50) {
        io.stdout(buffered);
        buffered = "";
        last = performance.now();
      }
    }
    io.stdout(`${buffered}\n`);
    return 0;
  },
};

/** --top-p: a number in (0, 1]. */
function topP(values: ParsedValues): number {
  const p = numberOption(values, "top-p", 1, 0, 1);
  if (p === 0) throw new UsageError(`--top-p must be a number in (0, 1]; received 0 (it would keep no character)`);
  return p;
}
