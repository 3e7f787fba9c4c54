/**
 * Interop with PyTorch, an independent autodiff (docs/interop.md): a bptt checkpoint loads into
 * nn.RNN / nn.LSTM / nn.GRU + nn.Linear with load_state_dict(strict=True) and `bptt grad` equals
 * torch's float64 gradients; a state dict saved from PyTorch in this layout loads into bptt; and a
 * wide vocabulary (V = 5,000 CJK symbols, the only case with V > 255 here or in torch-train.test.ts)
 * trained by `bptt train` loads the same way and gives torch's log-softmax of the logits.
 * Needs Debian's python3-torch (.ci/run installs it); skipped, loudly, where torch is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.ts";
import { LmEngine } from "../src/model/lm.ts";
import { Rng } from "../src/rng.ts";
import { grid, runCli, suiteTempDir } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = join(import.meta.dirname, "..", "scripts", "torch_interop.py");
const hasTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
if (!hasTorch) console.warn("torch-interop: /usr/bin/python3 cannot import torch; PyTorch interop tests SKIPPED (apt-get install python3-torch)");

async function bptt(...argv: string[]): Promise<void> {
  const r = await runCli(...argv);
  if (r.code !== 0) throw new Error(`bptt ${argv.join(" ")}: ${r.stderr}`);
}

// Python runs asynchronously: with execFileSync the test worker's event loop would stay blocked for
// the whole file (over a minute on a busy machine), and vitest fails the run with
// "[vitest-worker]: Timeout calling onTaskUpdate" although every test passed.
const python = (...args: string[]): Promise<{ stdout: string }> => promisify(execFile)(PYTHON, args);

async function torchCheck(model: string, grads: string, tokens: string): Promise<{ maxGradRelError: number; lossRelError: number }> {
  return JSON.parse((await python(SCRIPT, "check", model, grads, tokens)).stdout) as { maxGradRelError: number; lossRelError: number };
}

describe.skipIf(!hasTorch)("PyTorch interop", () => {
  const dir = suiteTempDir("bptt-torch-");
  const tokens = join(dir, "tokens.json");
  writeFileSync(tokens, JSON.stringify([[1, 2, 3, 4, 5, 6, 0, 1], [0, 6, 5, 4, 3, 2, 2, 1], [3, 3, 3, 1, 0, 6, 5, 4]]));

  // PyTorch's nn.RNN has tanh and relu only; nn.LSTM and nn.GRU have no choice (tanh)
  const cells = [
    ...grid({ cell: ["rnn"], nonlinearity: ["tanh", "relu"], bias: [true, false], layers: [1, 2] }),
    ...grid({ cell: ["lstm", "gru"], nonlinearity: ["tanh"], bias: [true, false], layers: [1, 2] }),
  ];
  for (const c of cells) {
    const name = `${c.cell} ${c.nonlinearity} bias=${c.bias} L=${c.layers}`;
    const file = `${c.cell}-${c.nonlinearity}-${c.bias}-${c.layers}`;
    it(`bptt checkpoint → torch, and bptt grad = torch autograd (${name})`, async () => {
      const model = join(dir, `bptt-${file}.safetensors`);
      const grads = join(dir, `grads-${file}.safetensors`);
      await bptt("init", "--vocab-size", "7", "--hidden", "6", "--layers", String(c.layers), "--cell", c.cell,
        ...(c.cell === "rnn" ? ["--nonlinearity", c.nonlinearity] : []),
        ...(c.bias ? [] : ["--no-bias"]), "--init-scale", "0.6", "--seed", "4", "--out", model);
      await bptt("grad", "--model", model, "--tokens", `@${tokens}`, "--out", grads);
      const r = await torchCheck(model, grads, tokens);
      expect(r.lossRelError).toBeLessThan(1e-12);
      expect(r.maxGradRelError).toBeLessThan(1e-10);
    });
    it(`torch state dict → bptt (${name})`, async () => {
      const model = join(dir, `torch-${file}.safetensors`);
      const grads = join(dir, `tgrads-${file}.safetensors`);
      // a gated cell's config without "nonlinearity" loads too (they have no choice)
      const nonlinearity = c.cell === "rnn" ? c.nonlinearity : "-";
      await python(SCRIPT, "export", model, "7", "6", String(c.layers), c.cell, nonlinearity, c.bias ? "1" : "0", "5");
      await bptt("grad", "--model", model, "--tokens", `@${tokens}`, "--out", grads);
      expect((await torchCheck(model, grads, tokens)).maxGradRelError).toBeLessThan(1e-10);
    });
  }

  it("refuses a model whose cell, input or head it does not know, naming it (the configs are edited)", async () => {
    const model = join(dir, "known.safetensors");
    await bptt("init", "--vocab-size", "7", "--hidden", "6", "--seed", "4", "--out", model);
    const grads = join(dir, "known-grads.safetensors");
    await bptt("grad", "--model", model, "--tokens", `@${tokens}`, "--out", grads);
    // a cell its table lacks (CELLS: PyTorch's modules), an input or a head bptt has none of yet
    for (const [key, kind] of [["cell", "mgu"], ["input", "embedding"], ["head", "regression"]] as const) {
      const file = parseSafetensors(readFileSync(model), model);
      const config = JSON.stringify({ ...(JSON.parse(file.metadata["config"] ?? "{}") as object), [key]: kind });
      const edited = join(dir, `${kind}.safetensors`);
      writeFileSync(edited, serializeSafetensors(file.tensors, { ...file.metadata, config }));
      const known = { cell: "rnn, lstm, gru", input: "onehot", head: "softmax" }[key];
      await expect(python(SCRIPT, "check", edited, grads, tokens)).rejects.toThrowError(
        new RegExp(`torch_interop\\.py: config ${key} "${kind}" is not one this script knows \\(${known}\\)`),
      );
    }
  });

  // A CJK text's thousands of symbols: V = 5,000 ideographs from U+4E00, each in the text, then random ones
  const V = 5000;
  const symbols = Array.from({ length: V }, (_, i) => String.fromCodePoint(0x4e00 + i));
  const rng = new Rng(11);
  const wide = join(dir, "wide.txt");
  writeFileSync(wide, [...symbols, ...Array.from({ length: 15_000 }, () => symbols[rng.int(V)])].join(""));
  for (const cell of ["lstm", "gru", "rnn"]) {
    it(`V = 5,000: a checkpoint bptt train wrote loads in torch, with torch's gradients and log-softmax (${cell})`, async () => {
      const model = join(dir, `wide-${cell}.safetensors`);
      const r = await runCli("train", "--data", wide, "--cell", cell, "--hidden", "24", "--seq-length", "16", "--batch-size", "4",
        "--steps", "4", "--eval-every", "0", "--threads", "1", "--out", model);
      expect(r.code, r.stderr).toBe(0);
      const checkpoint = loadCheckpoint(model);
      expect(checkpoint.config.vocabSize).toBe(V);
      // three sequences of 9 random token ids, with the first and the last id of the vocabulary among them
      const ids = new Rng(12);
      const seqs = [0, 1, 2].map(() => Array.from({ length: 9 }, () => ids.int(V)));
      seqs[0][2] = V - 1;
      seqs[1][6] = 0;
      const wideTokens = join(dir, `wide-tokens-${cell}.json`);
      writeFileSync(wideTokens, JSON.stringify(seqs));
      // strict load_state_dict, E and every gradient against the float64 reference (`bptt grad`)
      const grads = join(dir, `wide-grads-${cell}.safetensors`);
      await bptt("grad", "--model", model, "--tokens", `@${wideTokens}`, "--out", grads);
      const c = await torchCheck(model, grads, wideTokens);
      expect(c.lossRelError).toBeLessThan(1e-12);
      expect(c.maxGradRelError).toBeLessThan(1e-10);
      // the fast float32 engine (what bptt sample and bptt eval run) against torch's float64 log-softmax, row t·B + b
      const out = join(dir, `wide-logprobs-${cell}.json`);
      await python(SCRIPT, "logprobs", model, wideTokens, out);
      const torch = JSON.parse(readFileSync(out, "utf8")) as { shape: number[]; logProbs: number[] };
      const T = 8, B = seqs.length;
      expect(torch.shape).toEqual([T, B, V]);
      const inputs = new Int32Array(T * B), targets = new Int32Array(T * B);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          inputs[t * B + b] = seqs[b][t];
          targets[t * B + b] = seqs[b][t + 1];
        }
      }
      const engine = new LmEngine(checkpoint.config);
      engine.loss(checkpoint.params, { inputs, targets, T, B });
      const y = engine.probabilities;
      let worst = 0;
      for (let i = 0; i < T * B * V; i++) worst = Math.max(worst, Math.abs(Math.log(y[i]) - torch.logProbs[i]));
      engine.dispose();
      expect(worst).toBeLessThan(1e-5); // float32 against float64, over every one of the 5,000 symbols (measured: 7e-7)
    }, 60_000);
  }
});
