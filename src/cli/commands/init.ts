/**
 * `bptt init`: write a randomly initialised model (PyTorch-style uniform init) to a checkpoint.
 */
import { MAX_VOCAB } from "../../model/config.ts";
import { validateModelConfig } from "../../model/config.ts";
import { initParams } from "../../model/init.ts";
import { paramCount } from "../../model/params.ts";
import { readCorpusFile } from "../../data/node-files.ts";
import { saveCheckpoint } from "../../io/checkpoint-file.ts";
import { Rng } from "../../rng.ts";
import { TRAIN_DEFAULTS } from "../../train/options.ts";
import type { SchemaKey } from "../../train/schema.ts";
import { intOption, requiredString, stringOption, UsageError, type Command } from "../args.ts";
import { optionsFromFlags, schemaFlags } from "../schema-flags.ts";
import { describeShape, prepareOutput, MODEL_SHAPE_OPTIONS, modelShapeFromArgs } from "./shared.ts";

/** The init options of the option table that `bptt init` takes. */
const INIT_KEYS: readonly SchemaKey[] = ["initScale", "forgetBias", "seed"];

export const initCommand: Command = {
  name: "init",
  summary: "create a randomly initialised model checkpoint",
  usage: "(--vocab-size V | --data FILE) --out MODEL.safetensors [options]",
  description: `
Writes a new model with random weights, drawn PyTorch-style from U(-1/sqrt(H), 1/sqrt(H))
(or U(-s, s) with --init-scale s). The same seed always gives the same model.
With --data the vocabulary is the set of characters (Unicode code points) of FILE and is stored
in the checkpoint; with --vocab-size the model works on token ids 0..V-1 and has no vocabulary.

Example:
  bptt init --data input.txt --hidden 64 --out model.safetensors`,
  options: {
    "vocab-size": { type: "string", value: "V", help: "vocabulary size for a token-id model" },
    data: { type: "string", value: "FILE", help: "text file whose characters form the vocabulary" },
    ...MODEL_SHAPE_OPTIONS,
    ...schemaFlags(INIT_KEYS),
    out: { type: "string", value: "FILE", help: "checkpoint to write (required)" },
    force: { type: "boolean", help: "overwrite --out if it exists" },
  },
  run(values, io) {
    const out = requiredString(values, "out", "where to write the model");
    const dataPath = stringOption(values, "data");
    const vocabSizeFlag = stringOption(values, "vocab-size");
    if ((dataPath === undefined) === (vocabSizeFlag === undefined)) {
      throw new UsageError("give exactly one of --vocab-size V or --data FILE");
    }
    prepareOutput(out, { flag: "--out", overwrite: values["force"] === true, inputs: dataPath === undefined ? [] : [dataPath] });
    const vocab = dataPath === undefined ? undefined : readCorpusFile(dataPath).symbols;
    const vocabSize = vocab?.length ?? intOption(values, "vocab-size", 0, 1, MAX_VOCAB);
    const config = validateModelConfig(modelShapeFromArgs(values, vocabSize), "bptt init");
    const { seed = TRAIN_DEFAULTS.seed, initScale, forgetBias } = optionsFromFlags(values, INIT_KEYS);
    const params = new Float32Array(paramCount(config));
    initParams(params, config, new Rng(seed), {
      ...(initScale === undefined ? {} : { scale: initScale }), ...(forgetBias === undefined ? {} : { forgetBias }),
    });
    saveCheckpoint(out, { config, vocab, params, extra: new Map(), metadata: {} });
    io.stderr(
      `wrote ${out}: ${describeShape(config)}, V=${config.vocabSize}, ` +
        `bias=${config.bias}, ${params.length} parameters, seed ${seed}\n`,
    );
    return 0;
  },
};
