/**
 * `bptt init`: write a randomly initialised model (PyTorch-style uniform init) to a checkpoint.
 */
import { MAX_VOCAB, validateModelConfig } from "../../model/config.ts";
import { initParams } from "../../model/init.ts";
import { paramCount } from "../../model/params.ts";
import { readCorpusFile } from "../../data/node-files.ts";
import { saveCheckpoint } from "../../io/checkpoint-file.ts";
import { keysWhere, pick, tableDefaults, withDefaults, type FlaggedTable } from "../../option-table.ts";
import { Rng } from "../../rng.ts";
import { TRAIN_SCHEMA } from "../../train/schema.ts";
import { UsageError, type Command } from "../args.ts";
import { optionsFromFlags, required, schemaFlags } from "../schema-flags.ts";
import { describeShape, FORCE, MODEL_SHAPE_SCHEMA, modelShape, prepareOutput } from "./shared.ts";

/** The options of `bptt init`: the training table's model shape, initialisation (scope "init") and seed, and its own. */
const INIT_SCHEMA = {
  vocabSize: { kind: "int", flag: "vocab-size", scope: "session", value: "V", min: 1, max: MAX_VOCAB, help: "vocabulary size for a token-id model" },
  data: { kind: "text", flag: "data", scope: "session", value: "FILE", help: "text file whose characters form the vocabulary" },
  ...MODEL_SHAPE_SCHEMA,
  ...pick(TRAIN_SCHEMA, keysWhere(TRAIN_SCHEMA, { scope: "init" })),
  seed: TRAIN_SCHEMA.seed,
  out: { kind: "text", flag: "out", scope: "session", value: "FILE", help: "checkpoint to write (required)" },
  force: FORCE,
} as const satisfies FlaggedTable;

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
  options: schemaFlags(INIT_SCHEMA),
  run(values, io) {
    const o = withDefaults(tableDefaults(INIT_SCHEMA), optionsFromFlags(values, INIT_SCHEMA));
    const out = required(o.out, INIT_SCHEMA.out.flag, "where to write the model");
    const dataPath = o.data;
    if ((dataPath === undefined) === (o.vocabSize === undefined)) {
      throw new UsageError("give exactly one of --vocab-size V or --data FILE");
    }
    prepareOutput(out, { flag: "--out", overwrite: o.force, inputs: dataPath === undefined ? [] : [dataPath] });
    const vocab = dataPath === undefined ? undefined : readCorpusFile(dataPath).symbols;
    const vocabSize = vocab?.length ?? required(o.vocabSize, INIT_SCHEMA.vocabSize.flag);
    const config = validateModelConfig(modelShape(o, vocabSize), "bptt init");
    const { seed, initScale, forgetBias } = o;
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
