/**
 * `bptt sample`: generate text from a trained model, streamed to stdout as it is produced.
 */
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { generate } from "../../model/sample.ts";
import { intOption, numberOption, requiredString, stringOption, type Command } from "../args.ts";

export const sampleCommand: Command = {
  name: "sample",
  summary: "generate text from a trained model",
  usage: "--model MODEL.safetensors [--length N] [--temperature T] [--top-k K] [--prime TEXT] [--seed N]",
  description: `
Reads --prime with the network (default: a newline), then draws one character at a time from
softmax(logits / temperature) and writes it to stdout as soon as it is drawn.
Temperature 0 always takes the most likely character; below 1 is more conservative, above 1 wilder.

Example:
  bptt sample --model model.safetensors --prime "ROMEO:" --temperature 0.7 --length 1000`,
  options: {
    model: { type: "string", value: "FILE", help: "model checkpoint (required)" },
    length: { type: "string", value: "N", help: "characters to generate (default 500)" },
    temperature: { type: "string", value: "T", help: "softmax temperature >= 0 (default 1; 0 = argmax)" },
    "top-k": { type: "string", value: "K", help: "draw only among the K most likely characters (default 0: all)" },
    prime: { type: "string", value: "TEXT", help: "text to read before generating (default: a newline)" },
    "skip-unknown": { type: "boolean", help: "drop prime characters that are not in the vocabulary" },
    seed: { type: "string", value: "N", help: "random seed (default 1)" },
  },
  run(values, io) {
    const model = loadCheckpoint(requiredString(values, "model"));
    const prime = stringOption(values, "prime");
    const chars = generate(model, {
      length: intOption(values, "length", 500, 0, 100_000_000),
      temperature: numberOption(values, "temperature", 1, 0, 100),
      topK: intOption(values, "top-k", 0, 0, model.config.vocabSize),
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
