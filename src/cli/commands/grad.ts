/**
 * `bptt grad`: the loss E and its exact gradient for given token sequences, written as safetensors
 * under the parameters' own names and shapes (so any framework can compare them tensor by tensor).
 */
import { readFileSync } from "node:fs";
import { DataError } from "../../errors.ts";
import { batchFromSequences, validateBatch } from "../../model/batch.ts";
import { LmEngine } from "../../model/lm.ts";
import { loadCheckpoint } from "../../io/checkpoint-file.ts";
import { modelTensors } from "../../io/checkpoint.ts";
import { writeFileAtomic } from "../../io/atomic.ts";
import { safetensorsParts } from "../../io/safetensors.ts";
import { referenceForward, referenceLossAndGrads, referenceStepGradients, stepSliceNorms } from "../../reference/lm.ts";
import { tableDefaults, withDefaults, type FlaggedTable } from "../../option-table.ts";
import { UsageError, type Command } from "../args.ts";
import { optionsFromFlags, required, schemaFlags } from "../schema-flags.ts";
import { FORCE, MODEL_FILE, prepareOutput } from "./shared.ts";

/** Largest accepted --tokens @file, bytes. */
const MAX_TOKEN_FILE_BYTES = 256 * 2 ** 20;

/** The options of `bptt grad`. */
const GRAD_SCHEMA = {
  model: MODEL_FILE,
  tokens: { kind: "text", flag: "tokens", scope: "session", value: "IDS|@FILE", help: "token ids: 3,1,4,1,5 or @batch.json (required)" },
  out: { kind: "text", flag: "out", scope: "session", value: "FILE", help: "write the gradients to this safetensors file" },
  dtype: { kind: "choice", flag: "dtype", scope: "session", value: "T", choices: ["f64", "f32"], default: "f64", help: "gradient dtype in --out: {choices} (default {default})" },
  engine: { kind: "choice", flag: "engine", scope: "session", value: "E", choices: ["reference", "fast"], default: "reference", help: "{default} (float64, default) | fast (float32)" },
  fromStep: { kind: "int", flag: "from-step", scope: "session", value: "T", min: 1, max: Number.MAX_SAFE_INTEGER, help: "backpropagate step T's loss E_T alone and print ‖dE_T/dh_k‖ (and c_k) for k = 0..T per layer" },
  json: { kind: "flag", flag: "json", scope: "session", default: false, help: "print JSON (grad always does)" },
  force: FORCE,
} as const satisfies FlaggedTable;

export const gradCommand: Command = {
  name: "grad",
  summary: "loss and exact BPTT gradients of a model on given tokens",
  usage: "--model MODEL.safetensors --tokens 3,1,4,1,5 [--out GRADS.safetensors] [options]",
  description: `
Runs the model on token ids and prints {"loss": E, ...} as JSON on stdout, where
E = -sum over steps and sequences of log y_t[next token] (nats, summed over time and batch:
the article's E). Inputs are tokens[:-1], targets tokens[1:], initial state 0 (h_0, and c_0
for an LSTM). The cell (rnn, lstm, gru) is the checkpoint's.
With --out, writes dE/dtheta for every parameter under exactly the parameter names and shapes.

--from-step t backpropagates the loss of step t alone, E_t = -sum over sequences of
log y_t[next token], and prints {"loss": E_t, "step": t, "layers": [{"h": [n_0, ..., n_t],
"c": [...]}, ...]}: n_k = ||dE_t/dh_k|| (Frobenius norm over the batch; k = 0 the initial
state; layers bottom first; "c", the LSTM's, the total derivative through h_k too): how the error
of one step fades as it travels back through time. Float64 reference only.

--tokens takes comma-separated ids (one sequence) or @FILE with a JSON array of
equal-length arrays of ids (a batch of sequences; the loss is summed over all).

By default the float64 reference implementation computes the result (exact to ~1e-15);
--engine fast uses the float32 training engine instead.

Example:
  bptt grad --model model.safetensors --tokens 3,1,4,1,5 --out grads.safetensors
  bptt grad --model model.safetensors --tokens 3,1,4,1,5,9,2,6 --from-step 7`,
  options: schemaFlags(GRAD_SCHEMA),
  run(values, io) {
    const o = withDefaults(tableDefaults(GRAD_SCHEMA), optionsFromFlags(values, GRAD_SCHEMA));
    const modelPath = required(o.model, GRAD_SCHEMA.model.flag);
    const tokensArg = required(o.tokens, GRAD_SCHEMA.tokens.flag, "e.g. --tokens 3,1,4,1,5");
    const { out, dtype, engine } = o;
    if (out !== undefined) {
      const inputs = tokensArg.startsWith("@") ? [modelPath, tokensArg.slice(1)] : [modelPath];
      prepareOutput(out, { flag: "--out", overwrite: o.force, inputs });
    }

    if (o.fromStep !== undefined && out !== undefined) throw new UsageError("--from-step prints the one-step series only; --out writes the gradient of the whole E: give one of them");
    if (o.fromStep !== undefined && engine === "fast") throw new UsageError("--from-step runs on the float64 reference only; leave out --engine fast");

    const ckpt = loadCheckpoint(modelPath);
    const { config } = ckpt;
    const batch = batchFromSequences(parseTokens(tokensArg));
    validateBatch(batch, config.vocabSize);
    if (o.fromStep !== undefined) {
      const t = o.fromStep;
      if (t > batch.T) throw new UsageError(`--from-step must be a step of the tokens, 1..${batch.T} (T = tokens − 1); received ${t}`);
      const g = referenceStepGradients(referenceForward(config, Float64Array.from(ckpt.params), batch), t);
      const layers = g.layers.map((states) => Object.fromEntries(Object.entries(states).map(([name, d]) => [name, [...stepSliceNorms(d, batch.B, config.hiddenSize)]])));
      io.stdout(`${JSON.stringify({ loss: g.loss, step: t, layers })}\n`);
      return 0;
    }

    let loss: number;
    let grads: Float32Array | Float64Array;
    if (engine === "reference") {
      const result = referenceLossAndGrads(config, Float64Array.from(ckpt.params), batch);
      loss = result.loss;
      grads = result.grads;
    } else {
      const g = new Float32Array(ckpt.params.length);
      loss = new LmEngine(config).lossAndGrads(ckpt.params, g, batch);
      grads = g;
    }
    if (out !== undefined) {
      const tensors = modelTensors(config, grads, dtype === "f64" ? "F64" : "F32");
      // Parts, not one buffer: the file is written from the gradient tensors themselves, no whole-file copy.
      writeFileAtomic(out, safetensorsParts(tensors, { format: "bptt-grad", loss: String(loss) }));
    }
    const report = {
      loss,
      meanLoss: loss / (batch.T * batch.B),
      T: batch.T,
      B: batch.B,
      engine,
      ...(out === undefined ? {} : { out, dtype }),
    };
    io.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  },
};

/**
 * Token sequences from "3,1,4" (one sequence) or "@file.json" (array of equal-length arrays, or one flat array).
 * @throws DataError for unreadable files, bad JSON or non-integer ids
 */
export function parseTokens(arg: string): number[][] {
  if (arg.startsWith("@")) {
    const path = arg.slice(1);
    let text: string;
    try {
      const bytes = readFileSync(path);
      if (bytes.length > MAX_TOKEN_FILE_BYTES) throw new DataError(`${path} is ${bytes.length} bytes; at most ${MAX_TOKEN_FILE_BYTES} are accepted`);
      text = bytes.toString("utf8");
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(`cannot read token file ${path}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${path} is not valid JSON (${(e as Error).message}); expected an array of equal-length arrays of token ids`);
    }
    if (!Array.isArray(json) || json.length === 0) {
      throw new DataError(`${path} must hold a non-empty JSON array of token-id arrays, e.g. [[3,1,4],[1,5,9]]`);
    }
    const seqs: unknown[] = json.every((x) => typeof x === "number") ? [json] : json;
    return seqs.map((seq, b) => {
      if (!Array.isArray(seq)) throw new DataError(`${path}: sequence ${b} is not an array of token ids`);
      return seq.map((id, i) => tokenId(id, `${path}: sequence ${b}, position ${i}`));
    });
  }
  const parts = arg.split(",");
  return [parts.map((p, i) => tokenId(p.trim() === "" ? NaN : Number(p), `--tokens position ${i} (${JSON.stringify(p)})`))];
}

function tokenId(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new DataError(`${where}: expected a non-negative integer token id; received ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}
