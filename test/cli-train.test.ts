/**
 * `bptt train`, `bptt sample`, `bptt eval` end to end on small texts, including Ctrl-C in a real
 * process, and a checkpoint that cannot be written (an injected full disk; test/big/kill.big.ts
 * fills a real tmpfs).
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sampleMarkov, randomMarkovSource } from "../src/data/markov.ts";
import { encode, vocabFromSymbols } from "../src/data/vocab.ts";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import { batchFromSequences } from "../src/model/batch.ts";
import { referenceLoss } from "../src/reference/lm.ts";
import { runCli, suiteTempDir } from "./helpers.ts";
import { Rng } from "../src/rng.ts";

const bptt = runCli;

// Fault injection for the checkpoint writes of the in-process runs: node:fs forwards to the real
// module, except that from the `failFrom`-th temporary file opened (writeFileAtomic's `.tmp`,
// counted from the last `failTemp`) every write fails with `code` after a partial write.
const fault = vi.hoisted(() => ({ temps: 0, failFrom: Infinity, code: "ENOSPC", failing: new Set<number>() }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  return {
    ...fs,
    openSync: ((path: string, flags: string, mode?: number) => {
      const fd = fs.openSync(path, flags, mode);
      if (typeof path === "string" && path.endsWith(".tmp") && ++fault.temps >= fault.failFrom) fault.failing.add(fd);
      return fd;
    }) as typeof fs.openSync,
    writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (!fault.failing.has(fd)) return fs.writeSync(fd, buf, off, len);
      fs.writeSync(fd, buf, off, Math.min(len, 3));
      throw Object.assign(new Error(`${fault.code}: simulated failure, write`), { code: fault.code });
    }) as typeof fs.writeSync,
    closeSync: (fd: number) => {
      fault.failing.delete(fd);
      fs.closeSync(fd);
    },
  };
});
/** The n-th checkpoint written from now on (1: the next) fails, and every one after it. */
const failTemp = (n: number, code = "ENOSPC"): void => {
  Object.assign(fault, { temps: 0, failFrom: n, code });
};
afterEach(() => failTemp(Infinity));
const stepOf = (path: string): number => (JSON.parse(loadCheckpoint(path).metadata["train"] ?? "{}") as { step: number }).step;

const dir = suiteTempDir("bptt-train-");
let textFile: string;
let model: string;
const tiny = ["--hidden", "16", "--seq-length", "10", "--batch-size", "4"];

beforeAll(async () => {
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
      expect(other.stderr).toMatch(new RegExp(`cell \\(--cell\\) is ${cell} in the checkpoint; received rnn`));
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
    expect(events.map((e) => e.type)).toEqual(["start", "step", "step", "eval", "sample", "step", "checkpoint", "step", "eval", "sample", "checkpoint", "done"]);
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

describe("bptt train, init, export: the output is checked before the work", () => {
  it("makes the missing directories of --out", async () => {
    const out = join(dir, "new", "deeper", "m.safetensors");
    expect((await bptt("train", "--data", textFile, ...tiny, "--steps", "2", "--out", out)).code).toBe(0);
    expect(stepOf(out)).toBe(2);
    const onnx = join(dir, "exported", "m.onnx");
    expect((await bptt("export", "--model", out, "--out", onnx)).code).toBe(0);
    expect(existsSync(onnx)).toBe(true);
    const init = join(dir, "inits", "m.safetensors");
    expect((await bptt("init", "--vocab-size", "5", "--hidden", "4", "--out", init)).code).toBe(0);
    expect(existsSync(init)).toBe(true);
  });

  it("refuses at once, exit 2 and one line, a path that cannot be written, a directory, an input", async () => {
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "x");
    const cases: [string[], RegExp][] = [
      [["train", "--data", textFile, ...tiny, "--steps", "1000", "--out", join(blocker, "m.safetensors")], /a file is in the way/],
      [["train", "--data", textFile, ...tiny, "--steps", "1000", "--out", dir], /is a directory/],
      [["train", "--data", textFile, ...tiny, "--steps", "1000", "--out", textFile, "--force"], /is also an input/],
      [["init", "--vocab-size", "5", "--out", join(blocker, "m.safetensors")], /a file is in the way/],
      [["export", "--model", model, "--out", join(blocker, "m.onnx")], /a file is in the way/],
      [["export", "--model", model, "--out", model, "--force"], /is also an input/],
    ];
    for (const [argv, message] of cases) {
      const t0 = performance.now();
      const r = await bptt(...argv);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});

describe("bptt train --resume keeps the run's own settings", () => {
  it("after a run stopped early, --resume alone goes on with its budget and cadences; a flag replaces one and the run says so", async () => {
    const out = join(dir, "cadence.safetensors");
    failTemp(2); // the second checkpoint cannot be written: the run stops with the one of step 4 on disk, as after a kill
    const first = await bptt("train", "--data", textFile, ...tiny, "--steps", "9", "--checkpoint-every", "4", "--eval-every", "3", "--out", out);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(new RegExp(`resume with: bptt train --resume \\S+cadence\\.safetensors --data \\S+ \\(add --out`));
    failTemp(Infinity);
    expect(stepOf(out)).toBe(4);
    const again = await bptt("train", "--data", textFile, "--resume", out, "--json");
    expect(again.code).toBe(0);
    const events = again.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step?: number; reason?: string });
    expect(events.filter((e) => e.type === "eval").map((e) => e.step)).toEqual([6, 9]);
    expect(events.filter((e) => e.type === "checkpoint").map((e) => [e.step, e.reason])).toEqual([[8, "every"], [9, "end"]]);
    const more = await bptt("train", "--data", textFile, "--resume", out, "--steps", "11", "--eval-every", "5");
    expect(more.code).toBe(0);
    expect(more.stderr).toMatch(/set anew for this run: --steps 11 \(was 9\), --eval-every 5 \(was 3\)/);
  });

  it("refuses a new value of each setting fixed for the run, naming every one", async () => {
    const r = await bptt("train", "--data", textFile, "--resume", model, "--seed", "7", "--batch-size", "8", "--hidden", "32", "--forget-bias", "1");
    expect(r.code).toBe(1);
    for (const flag of ["--seed", "--batch-size", "--hidden", "--forget-bias"]) expect(r.stderr).toContain(flag);
  });
});

describe("bptt train: a checkpoint that cannot be written", () => {
  const temps = (): string[] => readdirSync(dir).filter((f) => f.endsWith(".tmp"));
  const noStack = /\n\s+at |Error:/;
  /** The command after "resume with:" in a message, as argv for `bptt` (the paths here have no spaces). */
  const resumeArgv = (stderr: string): string[] => {
    const m = /resume(?: from step \d+ again)? with: bptt (train [^(\n]*?)(?: \(add --out|\n|$)/.exec(stderr);
    if (m === null) throw new Error(`no resume command in: ${stderr}`);
    return m[1]!.trim().split(" ");
  };

  it("stops at the first failed periodic save, says the step on disk and how to resume; that command finishes the run exactly", async () => {
    const out = join(dir, "full.safetensors");
    failTemp(2); // the checkpoint of step 2 lands, that of step 4 finds the disk full
    const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "6", "--eval-every", "0", "--checkpoint-every", "2", "--out", out);
    expect(r.code).toBe(1);
    const message = r.stderr.slice(r.stderr.indexOf("bptt train: "));
    expect(message).toMatch(
      /^bptt train: cannot write \S+full\.safetensors at step 4 \(the periodic checkpoint, --checkpoint-every 2\): the disk is full \(ENOSPC\)\. Training stopped there, since no later checkpoint could be written either\. \S+full\.safetensors is untouched and holds step 2\. Free some space, then resume with: bptt train --resume \S+full\.safetensors --data \S+text\.txt \(add --out FILE to continue on another disk\)\n$/,
    );
    expect(r.stderr).not.toMatch(noStack);
    expect(stepOf(out)).toBe(2);
    expect(temps()).toEqual([]);
    failTemp(Infinity); // space freed: the printed command finishes the run, bit for bit as if nothing had happened
    const resumed = await bptt(...resumeArgv(r.stderr));
    expect(resumed.code, resumed.stderr).toBe(0);
    const whole = join(dir, "full-whole.safetensors");
    expect((await bptt("train", "--data", textFile, ...tiny, "--steps", "6", "--eval-every", "0", "--checkpoint-every", "2", "--out", whole)).code).toBe(0);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
  });

  it("a failed final save of a run that saved nothing says so", async () => {
    const out = join(dir, "never.safetensors");
    failTemp(1);
    const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "3", "--eval-every", "0", "--checkpoint-every", "0", "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write \S+never\.safetensors at step 3 \(the final checkpoint\): the disk is full \(ENOSPC\)\. \S+never\.safetensors was not created\. Free some space, then start the run again: nothing of it was saved\n$/);
    expect(r.stderr).not.toMatch(noStack);
    expect(existsSync(out)).toBe(false);
    expect(temps()).toEqual([]);
  });

  it("--keep-best: a failed best save names both files and the steps they hold", async () => {
    const out = join(dir, "kb.safetensors");
    const best = join(dir, "kb.best.safetensors");
    // step 2: best (1st write), periodic (2nd); step 4: a lower validation loss, its best save (3rd) fails
    failTemp(3);
    const r = await bptt("train", "--data", textFile, ...tiny, "--steps", "6", "--eval-every", "2", "--keep-best", "--checkpoint-every", "2", "--json", "--out", out);
    expect(r.code).toBe(1);
    const evals = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; step: number; best?: boolean }).filter((e) => e.type === "eval");
    expect(evals.map((e) => [e.step, e.best])).toEqual([[2, true], [4, true]]);
    // --json: the last event says why the run ended, with the message stderr ends on
    const last = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as { type?: string; step?: number; error?: string; message?: string };
    expect([last.type, last.step, last.error]).toEqual(["error", 4, "CheckpointError"]);
    expect(r.stderr.endsWith(`bptt train: ${last.message ?? "(none)"}\n`)).toBe(true);
    expect(r.stderr).toMatch(
      /cannot write \S+kb\.best\.safetensors at step 4 \(the checkpoint of a new lowest validation loss, --keep-best\): the disk is full \(ENOSPC\)\. Training stopped there, since no later checkpoint could be written either\. \S+kb\.best\.safetensors is untouched and holds step 2; \S+kb\.safetensors holds step 2\. Free some space, then resume with: bptt train --resume \S+kb\.safetensors --data \S+ \(add --out/,
    );
    expect(r.stderr).not.toMatch(noStack);
    expect([stepOf(out), stepOf(best)]).toEqual([2, 2]);
    expect(temps()).toEqual([]);
  });

  it("a resumed run writing elsewhere that fails before its first save points back to the checkpoint it resumed", async () => {
    const from = join(dir, "from.safetensors");
    const elsewhere = join(dir, "elsewhere.safetensors");
    expect((await bptt("train", "--data", textFile, ...tiny, "--steps", "2", "--eval-every", "0", "--out", from)).code).toBe(0);
    failTemp(1, "EIO");
    const r = await bptt("train", "--data", textFile, "--resume", from, "--out", elsewhere, "--steps", "4", "--checkpoint-every", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cannot write \S+elsewhere\.safetensors at step 3 \(the periodic checkpoint, --checkpoint-every 1\): EIO: simulated failure, write\. .*\S+elsewhere\.safetensors was not created\. Once that is fixed, resume from step 2 again with: bptt train --resume \S+from\.safetensors --out \S+elsewhere\.safetensors --data \S+\n$/,
    );
    expect(r.stderr).not.toMatch(noStack);
    expect(existsSync(elsewhere)).toBe(false);
    expect(stepOf(from)).toBe(2);
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

describe("bptt train and eval on the copy task (--data synthetic:copy:LAG)", () => {
  it("trains on it, resumes on the same text, and eval reports the share of recalls predicted right", async () => {
    const out = join(dir, "copy.safetensors");
    const r = await bptt("train", "--data", "synthetic:copy:6", ...tiny, "--steps", "4", "--eval-every", "0", "--sample-every", "0", "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(loadCheckpoint(out).vocab).toEqual([..."01234567=abcdefgh"].sort());
    // the same name makes the same text: the run's text hash matches on resume
    const again = await bptt("train", "--resume", out, "--data", "synthetic:copy:6", "--steps", "6");
    expect(again.code, again.stderr).toBe(0);
    expect(stepOf(out)).toBe(6);
    const e = await bptt("eval", "--model", out, "--data", "synthetic:copy:6:2", "--json");
    expect(e.code, e.stderr).toBe(0);
    const result = JSON.parse(e.stdout) as { chars: number; accuracy: { share: number; count: number } };
    expect(result.chars).toBe(199_996); // 28,571 blocks of 7
    expect(result.accuracy.count).toBe(28_571);
    expect(result.accuracy.share).toBeGreaterThanOrEqual(0);
    expect(result.accuracy.share).toBeLessThanOrEqual(1);
    const text = await bptt("eval", "--model", out, "--data", "synthetic:copy:6:2");
    expect(text.stdout).toMatch(/^recalls: \d+\.\d % of 28571 predicted right$/m);
    // a file's eval has no accuracy
    const file = await bptt("eval", "--model", model, "--data", textFile, "--json");
    expect(JSON.parse(file.stdout)).not.toHaveProperty("accuracy");
  });

  it("refuses a synthetic name it does not know, or a lag out of range, with exit 2 and one line", async () => {
    for (const [name, why] of [["synthetic:cpy:5", /expected synthetic:copy:LAG or synthetic:copy:LAG:SEED/], ["synthetic:copy:1", /lag must be an integer in \[2, 10000\]; received 1/]] as const) {
      const r = await bptt("train", "--data", name, "--steps", "1", "--out", join(dir, "never.safetensors"));
      expect(r.code, name).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(existsSync(join(dir, "never.safetensors"))).toBe(false);
  });
});
