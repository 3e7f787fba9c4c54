/**
 * Interop with PyTorch, an independent autodiff (DESIGN §3): a bptt checkpoint loads into
 * nn.RNN / nn.LSTM / nn.GRU + nn.Linear with load_state_dict(strict=True) and `bptt grad` equals
 * torch's float64 gradients; a state dict saved from PyTorch in this layout loads into bptt.
 * Needs Debian's python3-torch (.ci/run installs it); skipped, loudly, where torch is missing.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { grid, runCli } from "./helpers.ts";

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
  const dir = mkdtempSync(join(tmpdir(), "bptt-torch-"));
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
});
