/**
 * ONNX export, checked by a real runtime: ONNX Runtime for Node runs the exported graph of every
 * registered cell with an ONNX operator × nonlinearity × bias × layers {1, 2}, and its logits and
 * final state equal the float64 reference forward pass; a text run in two halves with the state
 * carried equals one run; Debian's python3-onnx (where installed) passes
 * `onnx.checker.check_model(full_check=True)`; the CLI writes the file with the metadata an
 * application needs and refuses bad input clearly; a cell without an operator is refused in one line.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf } from "../src/cells/index.ts";
import { ConfigError } from "../src/errors.ts";
import { ONNX_DESCRIPTOR } from "../src/io/onnx/descriptor.ts";
import { modelToOnnx } from "../src/io/onnx/export.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { paramCount, paramViews, stateLength } from "../src/model/params.ts";
import { finalState, referenceForward } from "../src/reference/lm.ts";
import { Rng } from "../src/rng.ts";
import { grid, normwiseRelError, runCli, suiteTempDir } from "./helpers.ts";

const V = 7;
const H = 10;
const B = 3;
const T = 9;

const PYTHON = "/usr/bin/python3";
const hasOnnx = spawnSync(PYTHON, ["-c", "import onnx"]).status === 0;
if (!hasOnnx) console.warn("onnx-export: /usr/bin/python3 cannot import onnx; onnx.checker SKIPPED (apt-get install python3-onnx)");

/** Every registered cell ONNX has an operator for, with each nonlinearity it accepts. */
const configs: ModelConfig[] = CELL_NAMES.filter((cell) => cellOf(cell).onnx !== undefined).flatMap((cell) =>
  grid({ cell: [cell], nonlinearity: cellOf(cell).nonlinearities, bias: [true, false], layers: [1, 2] }),
).map((c) => ({ ...c, hiddenSize: H, vocabSize: V }));
/** The registered cells ONNX has no operator for (none of today's three; see test/fourth-cell.test.ts). */
const withoutOperator = CELL_NAMES.filter((cell) => cellOf(cell).onnx === undefined);

function randomModel(config: ModelConfig, seed: number): Float32Array {
  const params = new Float32Array(paramCount(config));
  initParams(params, config, new Rng(seed), { scale: 0.6 });
  return params;
}

/** Token ids, [batch][seq]. */
function randomTokens(rng: Rng, batch: number, seq: number): number[][] {
  return Array.from({ length: batch }, () => Array.from({ length: seq }, () => rng.int(V)));
}

/** ONNX Runtime's run: logits [batch, seq, V] and the final state (S, L, batch, H), flat. */
async function runOnnx(
  session: ort.InferenceSession, config: ModelConfig, tokens: number[][], state0: Float32Array,
): Promise<{ logits: Float32Array; state: Float32Array }> {
  const batch = tokens.length;
  const seq = tokens[0].length;
  const names = cellOf(config.cell).stateNames;
  const per = config.layers * batch * H;
  const feeds: Record<string, ort.Tensor> = {
    tokens: new ort.Tensor("int64", BigInt64Array.from(tokens.flat().map(BigInt)), [batch, seq]),
  };
  names.forEach((s, i) => (feeds[`${s}0`] = new ort.Tensor("float32", state0.slice(i * per, (i + 1) * per), [config.layers, batch, H])));
  const out = await session.run(feeds);
  const state = new Float32Array(names.length * per);
  names.forEach((s, i) => state.set(out[`${s}n`].data as Float32Array, i * per));
  return { logits: out["logits"].data as Float32Array, state };
}

/** The reference's logits ȳ_t = W_o h_t + b_o (F3) in [batch, seq, V] order, and its final state, in float64. */
function referenceRun(config: ModelConfig, params: Float32Array, tokens: number[][], state0: Float32Array): { logits: Float64Array; state: Float64Array } {
  const p64 = Float64Array.from(params);
  const inputs = new Int32Array(T * B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) inputs[t * B + b] = tokens[b][t];
  const cache = referenceForward(config, p64, { inputs, targets: new Int32Array(T * B), T, B }, Float64Array.from(state0));
  const [Wo, bo] = paramViews(config, p64).head; // the softmax head's fc.weight (V, H) and fc.bias (V), when there is one
  const hTop = cache.h[config.layers - 1];
  const logits = new Float64Array(B * T * V);
  for (let b = 0; b < B; b++) {
    for (let t = 1; t <= T; t++) {
      for (let v = 0; v < V; v++) {
        let s = bo?.[v] ?? 0;
        for (let j = 0; j < H; j++) s += Wo[v * H + j] * hTop[(t * B + b) * H + j];
        logits[(b * T + t - 1) * V + v] = s;
      }
    }
  }
  return { logits, state: finalState(cache) };
}

describe("ONNX export", () => {
  const dir = suiteTempDir("bptt-onnx-");

  it("the committed descriptor is the vendored onnx.proto's (regenerate: npx vite-node scripts/onnx-descriptor.ts)", () => {
    const root = protobuf.loadSync(join(import.meta.dirname, "..", "src", "io", "onnx", "onnx.proto"));
    expect(ONNX_DESCRIPTOR).toEqual(JSON.parse(JSON.stringify(root.toJSON())));
  });

  configs.forEach((config, n) => {
    const name = `${config.cell} ${config.nonlinearity} bias=${config.bias} L=${config.layers}`;
    it(`ONNX Runtime = the float64 reference: logits, final state, and two halves = one run (${name})`, async () => {
      const params = randomModel(config, 10 + n);
      const bytes = modelToOnnx({ config, vocab: undefined, params });
      writeFileSync(join(dir, `model-${n}.onnx`), bytes);
      const session = await ort.InferenceSession.create(bytes);
      const rng = new Rng(100 + n);
      const tokens = randomTokens(rng, B, T);
      const state0 = Float32Array.from({ length: stateLength(config, B) }, () => rng.uniform(-0.8, 0.8));

      const got = await runOnnx(session, config, tokens, state0);
      const want = referenceRun(config, params, tokens, state0);
      expect(normwiseRelError(got.logits, want.logits)).toBeLessThan(1e-5);
      expect(normwiseRelError(got.state, want.state)).toBeLessThan(1e-5);

      // the state carried: steps 1..4, then 5..T from the state where the first half ended
      const first = await runOnnx(session, config, tokens.map((r) => r.slice(0, 4)), state0);
      const second = await runOnnx(session, config, tokens.map((r) => r.slice(4)), first.state);
      const halves = new Float32Array(B * T * V);
      for (let b = 0; b < B; b++) {
        halves.set(first.logits.subarray(b * 4 * V, (b + 1) * 4 * V), b * T * V);
        halves.set(second.logits.subarray(b * (T - 4) * V, (b + 1) * (T - 4) * V), (b * T + 4) * V);
      }
      expect(normwiseRelError(halves, got.logits)).toBeLessThan(1e-6);
      expect(normwiseRelError(second.state, got.state)).toBeLessThan(1e-6);
    });
  });

  it.skipIf(!hasOnnx)("onnx.checker.check_model(full_check=True) passes for every exported model", async () => {
    const files = configs.map((_, n) => join(dir, `model-${n}.onnx`));
    for (const f of files) expect(existsSync(f)).toBe(true);
    const check = "import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint('ok')";
    const { stdout } = await promisify(execFile)(PYTHON, ["-c", check, ...files]);
    expect(stdout.trim()).toBe("ok");
  });

  for (const cell of withoutOperator) {
    it(`refuses a model of a cell ONNX has no operator for, in one line (${cell})`, () => {
      const config: ModelConfig = { cell, nonlinearity: cellOf(cell).nonlinearities[0], layers: 1, hiddenSize: H, vocabSize: V, bias: true };
      const exporting = (): Uint8Array => modelToOnnx({ config, vocab: undefined, params: randomModel(config, 1) });
      expect(exporting).toThrow(ConfigError);
      expect(exporting).toThrow(new RegExp(`^cannot export model: ONNX has no operator for the ${cellOf(cell).title} cell \\(it has RNN, LSTM and GRU\\)$`));
    });
  }

  it("bptt export writes the model with its config and vocabulary; and names its inputs and outputs", async () => {
    const text = join(dir, "text.txt");
    writeFileSync(text, "abcab cabba ".repeat(40));
    const model = join(dir, "m.safetensors");
    const out = join(dir, "m.onnx");
    expect((await runCli("init", "--data", text, "--cell", "lstm", "--layers", "1", "--hidden", "8", "--out", model)).code).toBe(0);
    const r = await runCli("export", "--model", model, "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote .*m\.onnx .*LSTM, 1 layer of 8, vocabulary of 4, ONNX opset 17/);

    const ModelProto = protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType("onnx.ModelProto");
    const decoded = ModelProto.toObject(ModelProto.decode(readFileSync(out))) as { metadataProps: { key: string; value: string }[]; producerVersion: string };
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as { version: string };
    expect(decoded.producerVersion).toBe(pkg.version);
    const meta = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta["bptt.config"] ?? "")).toEqual({ cell: "lstm", nonlinearity: "tanh", layers: 1, hiddenSize: 8, vocabSize: 4, bias: true });
    expect(JSON.parse(meta["bptt.vocab"] ?? "")).toEqual([" ", "a", "b", "c"]);
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(["tokens", "h0", "c0"]);
    expect(session.outputNames).toEqual(["logits", "hn", "cn"]);
  });

  it("bptt export refuses a bad model file, its own input as output, and an existing file without --force", async () => {
    const bad = join(dir, "bad.safetensors");
    writeFileSync(bad, "not a checkpoint");
    const r1 = await runCli("export", "--model", bad, "--out", join(dir, "bad.onnx"));
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/bad\.safetensors/);
    expect(r1.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, "bad.onnx"))).toBe(false);

    const model = join(dir, "m2.safetensors");
    expect((await runCli("init", "--vocab-size", "5", "--cell", "gru", "--hidden", "4", "--out", model)).code).toBe(0);
    const r2 = await runCli("export", "--model", model, "--out", model);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/is also an input of this command/);

    const out = join(dir, "m2.onnx");
    writeFileSync(out, "keep me");
    const r3 = await runCli("export", "--model", model, "--out", out);
    expect(r3.code).toBe(2);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    expect((await runCli("export", "--model", model, "--out", out, "--force")).code).toBe(0);
    expect((await ort.InferenceSession.create(out)).inputNames).toEqual(["tokens", "h0"]);
  });
});
