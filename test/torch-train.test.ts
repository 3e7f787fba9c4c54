/**
 * Continuing a bptt run on PyTorch (scripts/train_torch.py) and back: from one bptt checkpoint,
 * 50 more steps of `bptt train --resume` and 50 steps of train_torch.py on 1 process and on 2
 * (torch.distributed.run, gloo on 127.0.0.1) give the same per-step losses (≤ 1e-4 relative) and
 * final weights, optimizer and carried state (≤ 1e-3 normwise, ‖a−b‖/‖b‖ per tensor), for every
 * cell × {adam, sgd} (dropout, warm-up, step decay, cosine, weight decay and both clippings among
 * the cases; the runs cross two epoch boundaries); the torch-written checkpoint resumes in bptt
 * and samples. The dropout masks are checked bit for bit against src/nn/dropout.ts.
 * Needs Debian's python3-torch; skipped, loudly, where /usr/bin/python3 cannot import torch.
 */
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CELL_NAMES, cellOf, type CellName } from "../src/cells/index.ts";
import { randomMarkovSource, sampleMarkov } from "../src/data/markov.ts";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import type { Checkpoint } from "../src/io/checkpoint.ts";
import { parseSafetensors, serializeSafetensors } from "../src/io/safetensors.ts";
import { paramSpecs } from "../src/model/params.ts";
import { dropoutMasks, dropoutSeed } from "../src/nn/dropout.ts";
import { Rng } from "../src/rng.ts";
import { runCli, suiteTempDir } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPTS = join(import.meta.dirname, "..", "scripts");
const SCRIPT = join(SCRIPTS, "train_torch.py");
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, torch.distributed"]).status === 0;
if (!hasTorch) console.warn("torch-train: /usr/bin/python3 cannot import torch; train_torch.py parity tests SKIPPED (apt-get install python3-torch)");

/** Steps of the base run, and the total after resuming (50 more; 22 chunks per epoch: two epoch boundaries). */
const BASE_STEPS = 10;
const STEPS = 60;
const SHAPE = ["--hidden", "16", "--seq-length", "8", "--batch-size", "4", "--eval-every", "0", "--threads", "1"];

interface Case {
  readonly name: string;
  readonly flags: readonly string[];
  /** Also on 2 processes (the adam and sgd cases). */
  readonly twoProcesses: boolean;
}

const CASES: readonly Case[] = [
  { name: "rnn adam, warm-up and step decay, no dropout", twoProcesses: true,
    flags: ["--cell", "rnn", "--optimizer", "adam", "--output-dropout", "0", "--warmup", "15", "--lr-decay", "0.8", "--lr-decay-every", "7"] },
  { name: "rnn sgd, 2 layers, dropout, element and norm clipping", twoProcesses: true,
    flags: ["--cell", "rnn", "--layers", "2", "--optimizer", "sgd", "--lr", "0.5", "--dropout", "0.3", "--output-dropout", "0.1", "--clip", "0.02", "--clip-norm", "1"] },
  { name: "lstm adam, 2 layers, dropout, cosine, AdamW weight decay", twoProcesses: true,
    flags: ["--cell", "lstm", "--layers", "2", "--optimizer", "adam", "--lr", "5e-3", "--dropout", "0.2", "--output-dropout", "0.2",
      "--lr-schedule", "cosine", "--warmup", "3", "--cosine-steps", "50", "--lr-min", "0.2", "--weight-decay", "0.1"] },
  { name: "lstm sgd, output dropout, L2 weight decay", twoProcesses: true,
    flags: ["--cell", "lstm", "--optimizer", "sgd", "--lr", "1", "--output-dropout", "0.2", "--weight-decay", "0.01"] },
  { name: "gru adam, output dropout, weight decay", twoProcesses: true,
    flags: ["--cell", "gru", "--optimizer", "adam", "--output-dropout", "0.3", "--weight-decay", "0.05"] },
  { name: "gru sgd, 2 layers, dropout, cosine, L2 weight decay", twoProcesses: true,
    flags: ["--cell", "gru", "--layers", "2", "--optimizer", "sgd", "--lr", "0.8", "--dropout", "0.25", "--output-dropout", "0",
      "--lr-schedule", "cosine", "--cosine-steps", "40", "--weight-decay", "0.01"] },
  // the other rules, on one process
  { name: "rnn momentum, weight decay", twoProcesses: false, flags: ["--cell", "rnn", "--optimizer", "momentum", "--lr", "0.05", "--weight-decay", "0.02"] },
  { name: "gru adagrad", twoProcesses: false, flags: ["--cell", "gru", "--optimizer", "adagrad", "--output-dropout", "0.1"] },
  { name: "lstm rmsprop, 2 layers, weight decay", twoProcesses: false, flags: ["--cell", "lstm", "--layers", "2", "--optimizer", "rmsprop", "--weight-decay", "0.01"] },
];

type StepEvent = Record<string, unknown> & { type: string; step: number; loss: number };

/**
 * The step events of a --json run's stdout. torch 1.13's `--tee` prefixes every line it copies with
 * "[default0]:", and copies a line that is still being written in two parts, each prefixed, onto one
 * output line: removing the prefix wherever it stands restores the line.
 */
function stepEvents(stdout: string): StepEvent[] {
  return stdout.replace(/\[default\d+\]:/g, "").split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as StepEvent;
      } catch {
        throw new Error(`not a JSON event: ${l}\n--- whole output ---\n${stdout}`);
      }
    }).filter((e) => e.type === "step");
}

/** ‖a − b‖ / ‖b‖. */
function relNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d2 = 0, b2 = 0;
  for (let i = 0; i < b.length; i++) {
    d2 += (a[i] - b[i]) ** 2;
    b2 += b[i] ** 2;
  }
  return b2 === 0 ? Math.sqrt(d2) : Math.sqrt(d2 / b2);
}

/** Worst ‖a−b‖/‖b‖ over the weights (per tensor), the optimizer state and the carried state. */
function worstDifference(got: Checkpoint, want: Checkpoint): number {
  let worst = 0;
  for (const s of paramSpecs(want.config)) {
    worst = Math.max(worst, relNorm(got.params.subarray(s.offset, s.offset + s.size), want.params.subarray(s.offset, s.offset + s.size)));
  }
  expect([...got.extra.keys()].sort()).toEqual([...want.extra.keys()].sort());
  for (const [name, t] of want.extra) worst = Math.max(worst, relNorm(got.extra.get(name)?.data ?? [], t.data));
  return worst;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface PyRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run Python asynchronously (a blocked event loop would time vitest's worker out; see torch-interop.test.ts). */
function python(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<PyRun> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * train_torch.py on `processes` processes (torch.distributed.run with Debian torch 1.13's flags for
 * Python 3.11). A port found free may be taken by another run's sockets before this run binds it
 * (four run at a time): a launch that fails to rendezvous is retried once on another port.
 */
async function trainTorch(processes: number, args: readonly string[], logDir: string): Promise<PyRun> {
  if (processes === 1) return python([SCRIPT, ...args]);
  // torchrun's logs (--redirects) go to logDir, not to a torchelastic_* directory of the system's that nothing removes
  const launch = async (): Promise<PyRun> => python(["-m", "torch.distributed.run", "--nproc_per_node", String(processes),
    "--master_addr", "127.0.0.1", "--master_port", String(await freePort()), "--redirects", "1", "--tee", "1", "--monitor_interval", "0.1",
    "--log_dir", logDir, SCRIPT, ...args]);
  const first = await launch();
  if (first.code === 0 || !/address already in use|EADDRINUSE|rendezvous|Connection reset|connect\(\)|Gloo/i.test(first.stderr)) return first;
  console.warn(`torch-train: torchrun failed to start (${first.stderr.split("\n").find((l) => /error/i.test(l)) ?? "?"}); retrying on another port`);
  return launch();
}

/** Start the jobs, at most `limit` at a time (a torchrun job idles much of its time: rendezvous, monitoring). */
function pool<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T>[] {
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => new Promise((resolve) => {
    if (active < limit) {
      active++;
      resolve();
    } else {
      waiting.push(() => { active++; resolve(); });
    }
  });
  const release = (): void => {
    active--;
    waiting.shift()?.();
  };
  return jobs.map(async (job) => {
    await acquire();
    try {
      return await job();
    } finally {
      release();
    }
  });
}

describe.skipIf(!hasTorch)("train_torch.py: a bptt run continued on PyTorch, on 1 and 2 processes", () => {
  const dir = suiteTempDir("bptt-torch-train-");
  const text = join(dir, "text.txt");
  // 800 characters: 720 train (4 streams of 180, 22 chunks of 8 per epoch), 80 validate
  writeFileSync(text, sampleMarkov(randomMarkovSource(9, 3), 800, new Rng(5)));
  const torchRuns = new Map<string, Promise<PyRun>>();
  const bpttEvents = new Map<string, StepEvent[]>();

  beforeAll(async () => {
    const keys: string[] = [];
    const jobs: (() => Promise<PyRun>)[] = [];
    for (const [i, c] of CASES.entries()) {
      const base = join(dir, `base-${i}.safetensors`);
      const r = await runCli("train", "--data", text, ...SHAPE, ...c.flags, "--steps", String(BASE_STEPS), "--out", base);
      if (r.code !== 0) throw new Error(`bptt train (${c.name}): ${r.stderr}`);
      for (const k of c.twoProcesses ? [1, 2] : [1]) {
        const key = `${i}-${k}`;
        keys.push(key);
        jobs.push(() => trainTorch(k, ["--resume", base, "--data", text, "--steps", String(STEPS), "--eval-every", "0", "--json",
          "--out", join(dir, `torch-${key}.safetensors`)], join(dir, `torchrun-${key}`)));
      }
    }
    pool(jobs, 4).forEach((run, j) => torchRuns.set(keys[j], run));
    // bptt's own continuation of each case, while PyTorch runs
    for (const [i, c] of CASES.entries()) {
      const out = join(dir, `bptt-${i}.safetensors`);
      const r = await runCli("train", "--resume", join(dir, `base-${i}.safetensors`), "--data", text, "--steps", String(STEPS),
        "--eval-every", "0", "--threads", "1", "--json", "--out", out);
      if (r.code !== 0) throw new Error(`bptt train --resume (${c.name}): ${r.stderr}`);
      bpttEvents.set(String(i), stepEvents(r.stdout));
    }
  }, 240_000);

  for (const [i, c] of CASES.entries()) {
    for (const k of c.twoProcesses ? [1, 2] : [1]) {
      it(`${c.name}: ${k} process${k > 1 ? "es" : ""} equal bptt's 50 steps, and the checkpoint goes back to bptt`, async () => {
        const key = `${i}-${k}`;
        const run = await (torchRuns.get(key) as Promise<PyRun>);
        expect(run.code, run.stderr).toBe(0);
        const want = bpttEvents.get(String(i)) ?? [];
        const got = stepEvents(run.stdout);
        expect(want.map((e) => e.step)).toEqual(Array.from({ length: STEPS - BASE_STEPS }, (_, s) => BASE_STEPS + 1 + s));
        expect(got.map((e) => e.step)).toEqual(want.map((e) => e.step));
        for (const e of got) for (const name of Object.keys(want[0] ?? {})) expect(e, `step event key ${name}`).toHaveProperty(name);
        const lossDiff = Math.max(...got.map((e, s) => Math.abs(e.loss - want[s].loss) / Math.abs(want[s].loss)));
        const lrDiff = Math.max(...got.map((e, s) => Math.abs((e.lr as number) - (want[s].lr as number)) / (want[s].lr as number)));
        const torchOut = join(dir, `torch-${key}.safetensors`);
        const a = loadCheckpoint(torchOut), b = loadCheckpoint(join(dir, `bptt-${i}.safetensors`));
        const weightDiff = worstDifference(a, b);
        const ta = JSON.parse(a.metadata["train"] ?? "{}") as Record<string, unknown>;
        const tb = JSON.parse(b.metadata["train"] ?? "{}") as Record<string, unknown>;
        console.log(`torch-train ${c.name}, ${k} process(es): max per-step loss rel. diff ${lossDiff.toExponential(2)}, ` +
          `max normwise diff ${weightDiff.toExponential(2)} (weights, optimizer and carried state)`);
        expect(lossDiff).toBeLessThan(1e-4);
        expect(lrDiff).toBeLessThan(1e-12);
        expect(weightDiff).toBeLessThan(1e-3);
        expect(ta["step"]).toBe(STEPS);
        expect(ta["position"]).toEqual(tb["position"]);
        // every setting of the run alike, but the threads bptt's continuation was given (PyTorch keeps the checkpoint's)
        expect({ ...(ta["settings"] as object), threads: undefined }).toEqual({ ...(tb["settings"] as object), threads: undefined });
        expect(Math.abs((ta["valLoss"] as number) - (tb["valLoss"] as number))).toBeLessThan(1e-4);
        expect(Math.abs((ta["smoothLoss"] as number) - (tb["smoothLoss"] as number))).toBeLessThan(1e-4);
        // back to bptt: it resumes the torch-written checkpoint and samples from it
        if (k === 2 || !c.twoProcesses) {
          const more = await runCli("train", "--resume", torchOut, "--data", text, "--steps", String(STEPS + 2), "--eval-every", "0", "--json",
            "--out", join(dir, `again-${key}.safetensors`));
          expect(more.code, more.stderr).toBe(0);
          expect(stepEvents(more.stdout).map((e) => e.step)).toEqual([STEPS + 1, STEPS + 2]);
          const s = await runCli("sample", "--model", torchOut, "--length", "20", "--seed", "3");
          expect(s.code, s.stderr).toBe(0);
          expect([...s.stdout.replace(/\n$/, "")].length).toBeGreaterThanOrEqual(20);
        }
      });
    }
  }

  it("draws bptt's dropout masks bit for bit (any seed, step, layer and slice of the batch)", async () => {
    const T = 7, B = 6, H = 33, L = 3;
    const cases = [[1, 0], [4294967295, 123456789], [2 ** 31, 2 ** 32 + 5], [77, 9]] as const;
    const code = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(SCRIPTS)})
import train_torch as tt
out = []
for run_seed, step in ${JSON.stringify(cases)}:
    seed = tt.dropout_seed(run_seed, step)
    rates = [0.3, 0.3, 0.55]
    full = ["".join("1" if v else "0" for v in (tt.dropout_multipliers(seed, l, p, ${T}, ${B}, ${H}, 0, ${B}, torch.device("cpu")) > 0).flatten().tolist()) for l, p in enumerate(rates)]
    part = tt.dropout_multipliers(seed, 2, 0.55, ${T}, ${B}, ${H}, 2, 3, torch.device("cpu"))
    whole = tt.dropout_multipliers(seed, 2, 0.55, ${T}, ${B}, ${H}, 0, ${B}, torch.device("cpu"))[:, 2:5]
    out.append({"seed": seed, "masks": full, "slice": bool(torch.equal(part, whole)), "scale": float(whole.max())})
print(json.dumps(out))`;
    const r = await python(["-c", code]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { seed: number; masks: string[]; slice: boolean; scale: number }[];
    cases.forEach(([runSeed, step], n) => {
      const seed = dropoutSeed(runSeed, step);
      expect(got[n].seed).toBe(seed);
      const want = dropoutMasks({ p: 0.3, outputP: 0.55, seed }, L, T, B, H).map((m) => Array.from(m ?? [], (v) => (v > 0 ? "1" : "0")).join(""));
      expect(got[n].masks).toEqual(want);
      expect(got[n].slice).toBe(true);
      expect(got[n].scale).toBeCloseTo(1 / 0.45, 12);
    });
  });

  it("refuses a bad checkpoint, one without training state, a cell, input or head it does not know, another text and a batch that does not split, in one line", async () => {
    const base = join(dir, "base-0.safetensors");
    const garbage = join(dir, "garbage.safetensors");
    writeFileSync(garbage, "this is not a checkpoint at all");
    const init = join(dir, "init.safetensors");
    expect((await runCli("init", "--data", text, "--hidden", "4", "--out", init)).code).toBe(0);
    const foreign = join(dir, "foreign.txt");
    writeFileSync(foreign, `${readFileSync(text, "utf8")}Ω`); // one character the model never saw
    const other = join(dir, "other.txt");
    writeFileSync(other, sampleMarkov(randomMarkovSource(9, 3), 800, new Rng(6)));
    const b3 = join(dir, "b3.safetensors");
    expect((await runCli("train", "--data", text, "--hidden", "4", "--seq-length", "8", "--batch-size", "3", "--steps", "1", "--eval-every", "0", "--out", b3)).code).toBe(0);
    // a checkpoint of a model with an input or a head this script has not learnt (its config edited: bptt knows none yet either)
    const withConfig = (name: string, change: Record<string, string>): string => {
      const file = parseSafetensors(readFileSync(base), base);
      const config = JSON.stringify({ ...(JSON.parse(file.metadata["config"] ?? "{}") as object), ...change });
      const path = join(dir, name);
      writeFileSync(path, serializeSafetensors(file.tensors, { ...file.metadata, config }));
      return path;
    };
    const unknownInput = withConfig("embedding.safetensors", { input: "embedding" });
    const unknownHead = withConfig("regression.safetensors", { head: "regression" });
    // and a cell the registry may have but this script's tables do not (scripts/train_torch.py: GATES)
    const unknownCell = withConfig("mgu.safetensors", { cell: "mgu" });
    const runs: [PyRun, RegExp][] = await Promise.all([
      python([SCRIPT, "--resume", garbage, "--data", text, "--steps", "5"]).then((r): [PyRun, RegExp] => [r, /garbage\.safetensors: .*not a safetensors file/]),
      python([SCRIPT, "--resume", init, "--data", text, "--steps", "5"]).then((r): [PyRun, RegExp] => [r, /has no training state .*bptt train --resume/]),
      python([SCRIPT, "--resume", base, "--data", foreign, "--steps", "5"]).then((r): [PyRun, RegExp] => [r, /1 characters that are not in the checkpoint's vocabulary: "Ω" ×1/]),
      python([SCRIPT, "--resume", base, "--data", other, "--steps", "5"]).then((r): [PyRun, RegExp] => [r, /trained on a different text/]),
      python([SCRIPT, "--resume", unknownInput, "--data", text, "--steps", "5"])
        .then((r): [PyRun, RegExp] => [r, /the model's input is "embedding", which train_torch\.py does not know \(it trains the inputs onehot\)/]),
      python([SCRIPT, "--resume", unknownHead, "--data", text, "--steps", "5"])
        .then((r): [PyRun, RegExp] => [r, /the model's head is "regression", which train_torch\.py does not know \(it trains the heads softmax\)/]),
      python([SCRIPT, "--resume", unknownCell, "--data", text, "--steps", "5"])
        .then((r): [PyRun, RegExp] => [r, /the model's cell is "mgu", which train_torch\.py does not know \(it trains the cells rnn, lstm, gru\)/]),
      // what each process of a 2-process run sees (no rendezvous is needed to refuse)
      python([SCRIPT, "--resume", b3, "--data", text, "--steps", "5"], { ...process.env, RANK: "0", WORLD_SIZE: "2", LOCAL_RANK: "0" })
        .then((r): [PyRun, RegExp] => [r, /B = 3 streams does not split over 2 processes.*\(1, 3\)/]),
    ]);
    for (const [r, message] of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/^train_torch\.py: error: /);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});

describe.skipIf(!hasTorch)("the Python scripts' cell tables", () => {
  it("agree with the registry (src/cells/index.ts): names, gate blocks of PyTorch's module, carried-state tensors; every cell with ONNX's operator is there", async () => {
    const code = `
import json, sys
sys.path.insert(0, ${JSON.stringify(SCRIPTS)})
import torch_interop as ti, train_torch as tt
modules = {name: m(2, 3).weight_hh_l0.shape[0] // 3 for name, m in ti.CELLS.items()}
print(json.dumps({"modules": modules, "gates": tt.GATES, "stateKeys": tt.STATE_KEYS}))`;
    const r = await python(["-c", code]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { modules: Record<string, number>; gates: Record<string, number>; stateKeys: Record<string, string[]> };
    const known = Object.keys(got.gates);
    expect(Object.keys(got.stateKeys)).toEqual(known);
    expect(Object.keys(got.modules)).toEqual(known);
    for (const name of known) {
      expect(CELL_NAMES, name).toContain(name);
      const cell = cellOf(name as CellName);
      expect(got.gates[name], name).toBe(cell.gateNames.length);
      expect(got.modules[name], name).toBe(cell.gateNames.length);
      expect(got.stateKeys[name], name).toEqual(cell.stateKeys);
    }
    // PyTorch's nn.RNN, nn.LSTM and nn.GRU are ONNX's RNN, LSTM and GRU: a registered cell with one of them is one the scripts know
    expect(known).toEqual(expect.arrayContaining(CELL_NAMES.filter((name) => cellOf(name).onnx !== undefined)));
  });
});
