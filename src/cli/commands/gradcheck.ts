/**
 * `bptt gradcheck`: let any user see that the gradients are right. On a random small model it
 * compares (1) the float64 reference's analytic gradients with central finite differences and
 * (2) the fast float32 engine with the reference, and prints the error of every tensor.
 */
import { CELL_NAMES, cellOf } from "../../cells/index.ts";
import { validateModelConfig, type ModelConfig } from "../../model/config.ts";
import { LmEngine } from "../../model/lm.ts";
import { paramSpecs } from "../../model/params.ts";
import { gradcheck, GRADCHECK_EPSILON, normwiseRelError, randomProblem } from "../../reference/gradcheck.ts";
import { referenceLossAndGrads } from "../../reference/lm.ts";
import { tableDefaults, withDefaults, type FlaggedTable } from "../../option-table.ts";
import { TRAIN_SCHEMA } from "../../train/schema.ts";
import type { CliIO, Command } from "../args.ts";
import { optionsFromFlags, schemaFlags } from "../schema-flags.ts";
import { describeShape, MODEL_SHAPE_SCHEMA, modelShape } from "./shared.ts";

/** Pass mark of the finite-difference check (float64). */
export const FD_TOLERANCE = 1e-7;
/** Pass mark of the float32 engine against the float64 reference. */
export const FAST_TOLERANCE = 1e-4;

/** Errors of one tensor in both checks. */
interface Row {
  readonly tensor: string;
  readonly shape: readonly number[];
  /** Finite differences vs reference, normwise relative. */
  readonly fd: number;
  /** Largest element-wise relative error of the same comparison. */
  readonly fdElement: number;
  /** Fast engine (float32) vs reference (float64), normwise relative. */
  readonly fast: number;
}

/**
 * The options of `bptt gradcheck`: the training table's model shape, batching and seed on a tiny
 * model (its own defaults, and the ranges a finite-difference check can afford), and its own.
 */
const GRADCHECK_SCHEMA = {
  ...MODEL_SHAPE_SCHEMA,
  hiddenSize: { ...TRAIN_SCHEMA.hiddenSize, default: 5 },
  vocabSize: { kind: "int", flag: "vocab-size", scope: "session", value: "V", min: 1, max: 1000, default: 4, help: "vocabulary size" },
  seqLength: { ...TRAIN_SCHEMA.seqLength, max: 1000, default: 5, help: "time steps" },
  batchSize: { ...TRAIN_SCHEMA.batchSize, max: 100, default: 2, help: "sequences" },
  seed: { ...TRAIN_SCHEMA.seed, help: "random seed" },
  epsilon: { kind: "number", flag: "epsilon", scope: "session", value: "E", min: 1e-12, max: 1, default: GRADCHECK_EPSILON, help: "finite-difference step" },
  all: { kind: "flag", flag: "all", scope: "session", default: false, help: "run the whole grid of configurations of the test suite" },
  json: { kind: "flag", flag: "json", scope: "session", default: false, help: "one JSON object per configuration on stdout" },
} as const satisfies FlaggedTable;

export const gradcheckCommand: Command = {
  name: "gradcheck",
  summary: "check the gradients against finite differences on a random small model",
  usage: "[--cell C --hidden H --vocab-size V --layers L --nonlinearity F --no-bias --seq-length T --batch-size B --seed N] [--all] [--json]",
  description: `
Builds a random model and batch, then for every parameter tensor and for h_0 (and c_0 for an LSTM) prints
  fd    the normwise relative error ||a - n|| / max(||a||, ||n||) between the float64 reference's
        analytic gradient a and central finite differences n (pass: <= ${FD_TOLERANCE})
  fast  the same error between the float32 training engine and the float64 reference (pass: <= ${FAST_TOLERANCE})
Exits 1 if any tensor fails. --all runs every cell (rnn with each nonlinearity, lstm, gru) x bias x
layers {1,2} x T {1,2,17} x B {1,3}.`,
  options: schemaFlags(GRADCHECK_SCHEMA),
  run(values, io) {
    const defaults = tableDefaults(GRADCHECK_SCHEMA);
    const o = withDefaults(defaults, optionsFromFlags(values, GRADCHECK_SCHEMA));
    const { seed, epsilon } = o;
    const runs: { config: ModelConfig; T: number; B: number }[] = [];
    if (o.all) {
      for (const cell of CELL_NAMES)
        for (const nonlinearity of cellOf(cell).nonlinearities)
          for (const bias of [true, false])
            for (const layers of [1, 2])
              for (const T of [1, 2, 17])
                for (const B of [1, 3]) runs.push({ config: { cell, nonlinearity, bias, layers, hiddenSize: defaults.hiddenSize, vocabSize: defaults.vocabSize }, T, B });
    } else {
      const config = validateModelConfig(modelShape(o, o.vocabSize), "bptt gradcheck");
      if (config.hiddenSize > 64) io.stderr(`note: gradcheck costs two forward passes per parameter; H=${config.hiddenSize} will be slow\n`);
      runs.push({ config, T: o.seqLength, B: o.batchSize });
    }
    let failed = 0;
    for (const { config, T, B } of runs) {
      const rows = checkOne(config, T, B, seed, epsilon);
      const ok = rows.every((r) => r.fd <= FD_TOLERANCE && r.fast <= FAST_TOLERANCE);
      if (!ok) failed++;
      report(io, o.json, config, T, B, rows, ok);
    }
    if (runs.length > 1 && !o.json) {
      io.stdout(`${runs.length - failed} passed, ${failed} failed\n`);
    }
    return failed === 0 ? 0 : 1;
  },
};

function checkOne(config: ModelConfig, T: number, B: number, seed: number, epsilon: number): Row[] {
  const problem = randomProblem(config, T, B, seed);
  // Both checks run on the float32-rounded parameters, so the fast engine sees the same model.
  const params = Float64Array.from(Float32Array.from(problem.params));
  const state0 = Float64Array.from(Float32Array.from(problem.state0));
  const fd = gradcheck(config, params, problem.batch, state0, { epsilon });
  const ref = referenceLossAndGrads(config, params, problem.batch, state0);
  const engine = new LmEngine(config);
  const grads32 = new Float32Array(params.length);
  engine.lossAndGrads(Float32Array.from(params), grads32, problem.batch, Float32Array.from(state0));
  const fastErrors = paramSpecs(config).map((s) =>
    normwiseRelError(grads32.subarray(s.offset, s.offset + s.size), ref.grads.subarray(s.offset, s.offset + s.size)),
  );
  const part = config.layers * B * config.hiddenSize; // each state tensor (h0, c0) is (L, B, H)
  cellOf(config.cell).stateNames.forEach((_, s) => {
    fastErrors.push(normwiseRelError(engine.dState0.subarray(s * part, (s + 1) * part), ref.dState0.subarray(s * part, (s + 1) * part)));
  });
  engine.dispose();
  return fd.tensors.map((t, i) => ({
    tensor: t.name,
    shape: t.shape,
    fd: t.normwiseRelError,
    fdElement: t.maxElementRelError,
    fast: fastErrors[i] ?? NaN,
  }));
}

function report(io: CliIO, json: boolean, config: ModelConfig, T: number, B: number, rows: Row[], ok: boolean): void {
  if (json) {
    io.stdout(`${JSON.stringify({ config, T, B, ok, tensors: rows })}\n`);
    return;
  }
  const title = `${describeShape(config)} bias=${config.bias} V=${config.vocabSize} T=${T} B=${B}`;
  const lines = [`${title}: ${ok ? "PASS" : "FAIL"}`];
  const width = Math.max(...rows.map((r) => r.tensor.length), 6);
  lines.push(`  ${"tensor".padEnd(width)}  ${"shape".padEnd(10)}  ${"fd (f64)".padStart(9)}  ${"fd elem".padStart(9)}  ${"fast (f32)".padStart(10)}`);
  for (const r of rows) {
    const flag = r.fd <= FD_TOLERANCE && r.fast <= FAST_TOLERANCE ? "" : "  <-- FAIL";
    lines.push(
      `  ${r.tensor.padEnd(width)}  ${`[${r.shape.join(",")}]`.padEnd(10)}  ${r.fd.toExponential(2).padStart(9)}  ` +
        `${r.fdElement.toExponential(2).padStart(9)}  ${r.fast.toExponential(2).padStart(10)}${flag}`,
    );
  }
  io.stdout(`${lines.join("\n")}\n`);
}
