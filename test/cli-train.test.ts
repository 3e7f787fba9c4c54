/**
 * `bptt train`, `bptt sample`, `bptt eval` end to end on small texts, including Ctrl-C in a real process.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sampleMarkov, randomMarkovSource } from "../src/data/markov.ts";
import { encode, vocabFromSymbols } from "../src/data/vocab.ts";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import { batchFromSequences } from "../src/model/batch.ts";
import { referenceLoss } from "../src/reference/lm.ts";
import { runCli } from "./helpers.ts";
import { Rng } from "../src/rng.ts";

const bptt = runCli;

let dir: string;
let textFile: string;
let model: string;
const tiny = ["--hidden", "16", "--seq-length", "10", "--batch-size", "4"];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bptt-train-"));
  textFile = join(dir, "text.txt");
  writeFileSync(textFile, sampleMarkov(randomMarkovSource(8, 1), 5000, new Rng(2)));
  model = join(dir, "model.safetensors");
  const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "30", "--eval-every", "10", "--out", model);
  if (r.code !== 0) throw new Error(r.stderr);
});

describe("bptt train --cell lstm | gru", () => {
  it("trains, carries h and c in the checkpoint, resumes exactly, samples and evaluates", async () => {
    for (const cell of ["lstm", "gru"]) {
      const out = join(dir, `${cell}.safetensors`);
      const whole = join(dir, `${cell}-whole.safetensors`);
      const r = await bptt("train", "--data", textFile, ...tiny, "--cell", cell, "--steps", "4", "--eval-every", "0", "--out", out);
      expect(r.code, r.stderr).toBe(0);
      const ckpt = loadCheckpoint(out);
      expect(ckpt.config.cell).toBe(cell);
      const state = [...ckpt.extra.keys()].filter((k) => k === "train.hidden" || k === "train.cell");
      expect(state).toEqual(cell === "lstm" ? ["train.hidden", "train.cell"] : ["train.hidden"]);
      // 4 + 4 steps from the checkpoint equal 8 steps in one run, bit for bit (the carried c included)
      expect((await bptt("train", "--data", textFile, "--resume", out, "--steps", "8", "--eval-every", "0")).code).toBe(0);
      expect((await bptt("train", "--data", textFile, ...tiny, "--cell", cell, "--steps", "8", "--eval-every", "0", "--out", whole)).code).toBe(0);
      const a = loadCheckpoint(out), b = loadCheckpoint(whole);
      expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
      for (const key of state) expect(Array.from(a.extra.get(key)?.data ?? [])).toEqual(Array.from(b.extra.get(key)?.data ?? []));
      const s = await bptt("sample", "--model", out, "--length", "20", "--seed", "3");
      expect(s.code, s.stderr).toBe(0);
      expect([...s.stdout.replace(/\n$/, "")].length).toBeGreaterThanOrEqual(20);
      // eval reads the text as one sequence from a zero state: the float64 reference's E over it, per character
      const e = await bptt("eval", "--model", out, "--data", textFile, "--json");
      expect(e.code, e.stderr).toBe(0);
      const ids = Array.from(encode(vocabFromSymbols(a.vocab ?? []), readFileSync(textFile, "utf8")));
      const want = referenceLoss(a.config, Float64Array.from(a.params), batchFromSequences([ids])).loss / (ids.length - 1);
      expect(Math.abs((JSON.parse(e.stdout) as { loss: number }).loss - want) / want).toBeLessThan(1e-4);
      // a resumed run keeps its cell
      const other = await bptt("train", "--data", textFile, "--resume", out, "--cell", "rnn", "--steps", "9");
      expect(other.code).not.toBe(0);
      expect(other.stderr).toMatch(new RegExp(`the checkpoint's model has cell ${cell}; received rnn`));
    }
  });
});

describe("bptt train", () => {
  it("trains, validates and leaves a loadable checkpoint with training state", () => {
    const ckpt = loadCheckpoint(model);
    expect(ckpt.config.hiddenSize).toBe(16);
    expect(ckpt.vocab).toHaveLength(8);
    expect(JSON.parse(ckpt.metadata["train"]!)).toMatchObject({ step: 30 });
    expect([...ckpt.extra.keys()]).toEqual(expect.arrayContaining(["optim.exp_avg", "optim.exp_avg_sq", "train.hidden"]));
  });

  it("writes JSON events with --json and resumes to a total step count", async () => {
    const out = join(dir, "json.safetensors");
    const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "4", "--eval-every", "2", "--sample-every", "2", "--checkpoint-every", "3", "--json", "--out", out);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step?: number });
    expect(events.map((e) => e.type)).toEqual(["step", "step", "eval", "sample", "step", "checkpoint", "step", "eval", "sample", "checkpoint", "done"]);
    const again = await bptt("train", "--data", textFile, "--resume", out, "--steps", "6", "--json");
    expect(again.code).toBe(0);
    const steps = again.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step?: number }).filter((e) => e.type === "step");
    expect(steps.map((e) => e.step)).toEqual([5, 6]);
  });

  it("refuses to overwrite a checkpoint with a new run, and explains bad input", async () => {
    const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "1", "--out", model);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists; pass --force/);
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    expect((await bptt("train", "--data", empty, "--steps", "1", "--out", join(dir, "x.safetensors"))).stderr).toMatch(/empty/);
    const binary = join(dir, "binary.bin");
    writeFileSync(binary, Buffer.from([0, 1, 2, 3, 0, 255, 0, 7]));
    expect((await bptt("train", "--data", binary, "--steps", "1", "--out", join(dir, "x.safetensors"))).stderr).toMatch(/binary/);
    expect((await bptt("train", "--data", join(dir, "nope.txt"), "--steps", "1")).stderr).toMatch(/nope\.txt/);
    const short = join(dir, "short.txt");
    writeFileSync(short, "abcabcabcabcabcabcabcabcabcabcabcabc");
    const s = await bptt("train", "--data", short, "--steps", "1", "--out", join(dir, "x.safetensors"));
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/--batch-size|--seq-length/);
    expect((await bptt("train", "--optimizer", "adamw", "--steps", "1")).code).toBe(2);
    expect((await bptt("train", "--lr=-1", "--steps", "1")).stderr).toMatch(/--lr must be a number/);
  });

  it("finishes the step, saves and exits 0 on Ctrl-C (real process)", async () => {
    const out = join(dir, "interrupted.safetensors");
    const bin = join(import.meta.dirname, "..", "bin", "bptt.js");
    const child = spawn(process.execPath, [bin, "train", "--data", textFile, ...tiny, "--json", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let signalled = false;
    child.stdout.on("data", (d: Buffer) => {
      if (!signalled && d.toString().includes('"type":"step"')) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(stderr).toMatch(/interrupted after \d+ steps/);
    expect(stderr).toMatch(/resume with: bptt train --resume .*interrupted\.safetensors --data/);
    expect(existsSync(out)).toBe(true);
    expect(JSON.parse(loadCheckpoint(out).metadata["train"]!).step).toBeGreaterThan(0);
  });

  it("stops as on Ctrl-C, without a stack trace, when the reader of --json goes away (| head)", async () => {
    const out = join(dir, "piped.safetensors");
    const bin = join(import.meta.dirname, "..", "bin", "bptt.js");
    const child = spawn(process.execPath, [bin, "train", "--data", textFile, ...tiny, "--json", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // like `head -n 1`: read the first event, then close the pipe
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(stderr).not.toMatch(/\n\s+at |EPIPE/);
    expect(code).toBe(0);
    expect(stderr).toMatch(/interrupted after \d+ steps/);
    expect(JSON.parse(loadCheckpoint(out).metadata["train"]!).step).toBeGreaterThan(0);
  });
});

describe("bptt sample", () => {
  it("generates the requested number of characters, deterministically for a seed", async () => {
    const a = await bptt("sample", "--model", model, "--length", "40", "--seed", "5");
    const b = await bptt("sample", "--model", model, "--length", "40", "--seed", "5");
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect([...a.stdout.replace(/\n$/, "")]).toHaveLength(40);
  });
  it("temperature 0 is argmax (same for any seed), and top-k 1 equals it", async () => {
    const t0 = await bptt("sample", "--model", model, "--length", "30", "--temperature", "0", "--seed", "1");
    const t0b = await bptt("sample", "--model", model, "--length", "30", "--temperature", "0", "--seed", "2");
    const k1 = await bptt("sample", "--model", model, "--length", "30", "--top-k", "1", "--seed", "3");
    expect(t0.stdout).toBe(t0b.stdout);
    expect(k1.stdout).toBe(t0.stdout);
    const p0 = await bptt("sample", "--model", model, "--length", "30", "--top-p", "1e-9", "--seed", "3");
    expect(p0.stdout).toBe(t0.stdout); // the nucleus of a tiny p is the most likely character
  });
  it("--top-p cuts the tail, --stop ends the sample right after its text", async () => {
    const free = (await bptt("sample", "--model", model, "--length", "200", "--seed", "4")).stdout;
    const stopText = free.slice(20, 22); // a pair of characters this seed draws
    const stopped = await bptt("sample", "--model", model, "--length", "200", "--seed", "4", "--stop", stopText);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toBe(`${free.slice(0, free.indexOf(stopText) + 2)}\n`);
    expect((await bptt("sample", "--model", model, "--top-p", "0.9", "--length", "10")).code).toBe(0);
    const bad = await bptt("sample", "--model", model, "--top-p", "0");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--top-p must be a number in \(0, 1\]/);
  });
  it("lists prime characters outside the vocabulary, or skips them", async () => {
    const r = await bptt("sample", "--model", model, "--prime", "a€€b", "--length", "5");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not in the model's vocabulary: "€" ×2/);
    expect((await bptt("sample", "--model", model, "--prime", "a€€b", "--length", "5", "--skip-unknown")).code).toBe(0);
  });
  it("explains that a token-id model cannot sample text", async () => {
    const ids = join(dir, "ids.safetensors");
    await bptt("init", "--vocab-size", "5", "--hidden", "3", "--out", ids);
    expect((await bptt("sample", "--model", ids)).stderr).toMatch(/has no vocabulary/);
  });
});

describe("bptt eval", () => {
  it("reports loss, bpc, perplexity and chars as JSON", async () => {
    const r = await bptt("eval", "--model", model, "--data", textFile, "--json");
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { loss: number; bpc: number; perplexity: number; chars: number };
    expect(e.chars).toBe(4999);
    expect(e.loss).toBeLessThan(Math.log(8));
    expect(e.bpc).toBeCloseTo(e.loss / Math.LN2, 12);
    expect(e.perplexity).toBeCloseTo(Math.exp(e.loss), 9);
  });
  it("counts characters outside the vocabulary instead of returning NaN", async () => {
    const other = join(dir, "other.txt");
    writeFileSync(other, "zzz€ab");
    const r = await bptt("eval", "--model", model, "--data", other);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/4 characters are not in the model's vocabulary: "z" ×3, "€" ×1/);
  });
});
