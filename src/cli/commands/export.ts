/**
 * `bptt export`: a checkpoint as an ONNX model, for ONNX Runtime and every other ONNX runtime.
 */
import { writeFileAtomic } from "../../io/atomic.ts";
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { modelToOnnx, ONNX_OPSET } from "../../io/onnx/export.ts";
import { cellOf } from "../../cells/index.ts";
import { tableDefaults, withDefaults, type FlaggedTable } from "../../option-table.ts";
import type { Command } from "../args.ts";
import { optionsFromFlags, required, schemaFlags } from "../schema-flags.ts";
import { FORCE, MODEL_FILE, prepareOutput } from "./shared.ts";

/** The options of `bptt export`. */
const EXPORT_SCHEMA = {
  model: MODEL_FILE,
  out: { kind: "text", flag: "out", scope: "session", value: "FILE", help: "ONNX file to write (required)" },
  force: FORCE,
} as const satisfies FlaggedTable;

export const exportCommand: Command = {
  name: "export",
  summary: "write a model as ONNX, for ONNX Runtime and other inference runtimes",
  usage: "--model MODEL.safetensors --out MODEL.onnx [--force]",
  description: `
Writes the model as a standard ONNX graph (opset ${ONNX_OPSET}): a one-hot input, per layer one RNN, LSTM
or GRU operator, the output layer as MatMul + Add. Inputs: tokens int64 [batch, seq] and the
initial state h0 float32 [layers, batch, hidden] (for an LSTM also c0). Outputs: logits float32
[batch, seq, vocab] (before the softmax) and the final state hn (cn). batch and seq are dynamic:
run a whole text at once, or one token at a time with the state carried. The metadata keys
bptt.config and bptt.vocab hold the model's config and its vocabulary (a JSON array of the
symbols; token id = index), so an application can encode text without bptt.

Example:
  bptt export --model model.safetensors --out model.onnx`,
  options: schemaFlags(EXPORT_SCHEMA),
  run(values, io) {
    const o = withDefaults(tableDefaults(EXPORT_SCHEMA), optionsFromFlags(values, EXPORT_SCHEMA));
    const modelPath = required(o.model, EXPORT_SCHEMA.model.flag);
    const out = required(o.out, EXPORT_SCHEMA.out.flag);
    prepareOutput(out, { flag: "--out", overwrite: o.force, inputs: [modelPath] });
    const model = loadCheckpoint(modelPath);
    const bytes = modelToOnnx(model);
    writeFileAtomic(out, bytes);
    const { cell, layers, hiddenSize, vocabSize } = model.config;
    io.stderr(
      `wrote ${out} (${(bytes.length / 2 ** 20).toFixed(2)} MiB): ${cellOf(cell).title}, ${layers} layer${layers > 1 ? "s" : ""} of ${hiddenSize}, ` +
        `vocabulary of ${vocabSize}${model.vocab === undefined ? " (token ids; no bptt.vocab)" : ""}, ONNX opset ${ONNX_OPSET}\n`,
    );
    return 0;
  },
};
