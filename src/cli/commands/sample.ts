/**
 * `bptt sample`: generate text from a trained model, streamed to stdout as it is produced.
 */
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { generate, SAMPLE_SCHEMA } from "../../model/sample.ts";
import type { FlaggedTable } from "../../option-table.ts";
import type { Command } from "../args.ts";
import { optionsFromFlags, required, schemaFlags } from "../schema-flags.ts";
import { MODEL_FILE, warnIfPortableKernels } from "./shared.ts";

/** The options of `bptt sample`: the model, and those of `generate` (SAMPLE_SCHEMA). */
const SAMPLE_COMMAND_SCHEMA = { model: MODEL_FILE, ...SAMPLE_SCHEMA } as const satisfies FlaggedTable;

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
  options: schemaFlags(SAMPLE_COMMAND_SCHEMA),
  run(values, io) {
    const model = loadCheckpoint(required(optionsFromFlags(values, { model: MODEL_FILE }).model, MODEL_FILE.flag));
    warnIfPortableKernels(io);
    // top-k up to the model's vocabulary (the library takes any k: k ≥ V is all of it)
    const chars = generate(model, optionsFromFlags(values, { ...SAMPLE_SCHEMA, topK: { ...SAMPLE_SCHEMA.topK, max: model.config.vocabSize } }));
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
