/**
 * `npm run bench`'s contract (the issue's "--shape M --json" interface, at the quickest shape, one
 * gated cell's row, and the wide-vocabulary row W with its output layer's share), the FMA-peak
 * share of each GEMM and the clock it comes from, and its memory measurement: the peak RSS of a
 * real `bptt train` in a process of its own.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ghzFromPerfStat } from "../bench/lib.ts";
import { bareNodePeak, cliBuilt, trainingPeak } from "../bench/memory.ts";
import { cellOf } from "../src/cells/index.ts";
import { paramCount } from "../src/model/params.ts";

const root = join(import.meta.dirname, "..");

/** Run bench/train-step.ts with `args` (and --quick) and return its stdout. */
async function bench(args: readonly string[]): Promise<string> {
  const vite = join(root, "node_modules", ".bin", "vite-node");
  return (await promisify(execFile)(vite, [join(root, "bench", "train-step.ts"), ...args, "--quick"], { cwd: root })).stdout;
}

/** Run bench/train-step.ts with `args` and parse its JSON lines. */
async function benchRows(args: readonly string[]): Promise<Record<string, unknown>[]> {
  return (await bench([...args, "--json"])).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

interface Gemm {
  M: number;
  N: number;
  K: number;
  op: string;
  gflops: number;
  fmaPeakShare: number;
}

/** Every GEMM's share of the FMA peak is its GFLOP/s over 16 flop per cycle at the row's clock. */
function expectPeakShares(r: Record<string, unknown>, ghz: number): void {
  const gemm = r["gemm"] as Gemm[];
  expect(gemm.length).toBe(6);
  for (const g of gemm) expect(g.fmaPeakShare, `${g.M}×${g.N}×${g.K} ${g.op}`).toBeCloseTo(g.gflops / (16 * ghz), 12);
}

/** The output layer's share is what its three GEMMs and the softmax took in the profile. */
function expectOutputShare(r: Record<string, unknown>, outputKernels: readonly string[]): number {
  const profile = r["profile"] as { kernel: string; share: number }[];
  expect(profile.map((e) => e.kernel)).toEqual(expect.arrayContaining([...outputKernels]));
  const sum = profile.filter((e) => outputKernels.includes(e.kernel)).reduce((a, e) => a + e.share, 0);
  expect(r["outputShare"]).toBeCloseTo(sum, 12);
  return sum;
}

/** The fields every row has: speed, memory (the CLI's run), the machine. */
function expectMeasured(r: Record<string, unknown>): void {
  for (const key of ["tokensPerSec", "gflops", "peakRssMiB", "nodeRssMiB", "needsMiB", "memoryOverNeeds"]) {
    expect(r[key], key).toBeGreaterThan(0);
  }
  expect(r["peakRssMiB"] as number).toBeGreaterThan(r["nodeRssMiB"] as number);
  expect(r["machine"]).toMatchObject({ cores: expect.any(Number), cpu: expect.any(String) });
}

describe("the clock from perf stat", () => {
  it("is cycles over task-clock where perf counts cycles, and none where it cannot", () => {
    const counted = "3719000000,,cycles,1000000,100.00,,\n1000.00,msec,task-clock,1000000000,100.00,0.999,CPUs utilized\n";
    expect(ghzFromPerfStat(counted)).toBeCloseTo(3.719, 12);
    expect(ghzFromPerfStat(counted.replace(",cycles,", ",cycles:u,"))).toBeCloseTo(3.719, 12);
    // a virtual machine without a cycle counter (what `perf stat -e cycles true` prints on the 2-core machine)
    expect(ghzFromPerfStat("<not supported>,,cycles,0,100.00,,\n170.73,msec,task-clock,170727749,100.00,0.986,CPUs utilized\n")).toBeUndefined();
    expect(ghzFromPerfStat("3719000000,,cycles,1000000,100.00,,\n")).toBeUndefined();
  });
});

describe.runIf(cliBuilt())("npm run bench", () => {
  it("--shape S --quick --json prints one JSON object per row with speed, threads, memory and the machine", async () => {
    const rows = await benchRows(["--shape", "S"]);
    expect(rows.length).toBe(1); // S is the simple RNN's alone, and runs on one thread only: one row
    for (const r of rows) {
      expect(r).toMatchObject({ cell: "rnn", shape: "S", H: 100, T: 25, B: 1, kernels: expect.stringMatching(/^wasm-(fma|simd)$/), threads: 1 });
      expectMeasured(r);
    }
  }, 60_000);

  it("--cell gru --shape M: the GRU's row, with its FLOPs, its buffers in needs and its kernels in the profile", async () => {
    const [r, more] = await benchRows(["--cell", "gru", "--shape", "M", "--threads", "1"]);
    expect(more).toBeUndefined();
    expect(r).toMatchObject({ cell: "gru", shape: "M", H: 256, T: 50, B: 32, kernels: expect.stringMatching(/^wasm-(fma|simd)$/), threads: 1 });
    expectMeasured(r);
    const { tokensPerSec, gflops } = r as { tokensPerSec: number; gflops: number };
    expect(gflops / tokensPerSec).toBeCloseTo((6 * 3 * 256 * 256 + 6 * 65 * 256) / 1e9, 12); // 6·G·H² + 6·V·H, G = 3
    // params, grads, Adam's m and v, the GRU layer's buffers, the logits
    const P = paramCount({ cell: "gru", nonlinearity: "tanh", layers: 1, hiddenSize: 256, vocabSize: 65, bias: true });
    expect(r["needsMiB"]).toBeCloseTo(((4 * P + cellOf("gru").layer.bufferFloats(50, 32, 256) + 50 * 32 * 65) * 4) / 2 ** 20, 9);
    const profile = r["profile"] as { kernel: string }[];
    const kernels = profile.map((e) => e.kernel);
    expect(kernels).toEqual(expect.arrayContaining(["gruCellForward", "gruCellBackward", "gemm 768×256×1600 TN"]));
    // the recurrence's per-step products on W_hh packed once per chunk (B = 32 ≥ 4, T = 50): forward and BPTT
    expect(kernels).toEqual(expect.arrayContaining(["gemmPacked 32×768×256 NP", "gemmPacked 32×256×768 NP"]));
    // the clock, measured (no --ghz): a cycle counter or the timed chain, a plausible figure
    const clock = r["clock"] as { ghz: number; source: string };
    expect(clock.source).toMatch(/^(perf stat -e cycles|timed dependent add\/xor chain)/);
    expect(clock.ghz).toBeGreaterThan(0.5);
    expect(clock.ghz).toBeLessThan(10);
    expectPeakShares(r, clock.ghz);
    expectOutputShare(r, ["gemm 1600×65×256 NT", "gemm 1600×256×65 NN", "gemm 65×256×1600 TN", "softmaxCrossEntropy", "softmaxCrossEntropyBackward"]);
  }, 60_000);

  it("--cell lstm --shape W: V = 5,000, where the output layer takes most of the step; sampling and evaluation speed; --ghz", async () => {
    const [r, more] = await benchRows(["--cell", "lstm", "--shape", "W", "--threads", "1", "--ghz", "2.5"]);
    expect(more).toBeUndefined();
    expect(r).toMatchObject({ cell: "lstm", shape: "W", H: 256, T: 50, B: 32, V: 5000, threads: 1 });
    expectMeasured(r);
    const { tokensPerSec, gflops } = r as { tokensPerSec: number; gflops: number };
    expect(gflops / tokensPerSec).toBeCloseTo((6 * 4 * 256 * 256 + 6 * 5000 * 256) / 1e9, 12); // 6·G·H² + 6·V·H, G = 4
    const P = paramCount({ cell: "lstm", nonlinearity: "tanh", layers: 1, hiddenSize: 256, vocabSize: 5000, bias: true });
    expect(r["needsMiB"]).toBeCloseTo(((4 * P + cellOf("lstm").layer.bufferFloats(50, 32, 256) + 50 * 32 * 5000) * 4) / 2 ** 20, 9);
    expect(r["clock"]).toEqual({ ghz: 2.5, source: "given with --ghz" });
    expectPeakShares(r, 2.5);
    // the output layer does 6·V·H = 7.7 M of the 9.2 M flop a token (83 %): it must take most of the step
    const share = expectOutputShare(r, ["gemm 1600×5000×256 NT", "gemm 1600×256×5000 NN", "gemm 5000×256×1600 TN", "softmaxCrossEntropy", "softmaxCrossEntropyBackward"]);
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(1);
    // generation runs one character per forward pass, evaluation 200: a few times slower per character, not
    // ~35× as when every character copied the 27 MB of parameters into kernel memory (src/model/sample.ts)
    const { sampleCharsPerSec, evalCharsPerSec } = r as { sampleCharsPerSec: number; evalCharsPerSec: number };
    expect(sampleCharsPerSec).toBeGreaterThan(0);
    expect(evalCharsPerSec / sampleCharsPerSec).toBeLessThan(15);
  }, 120_000);

  it("--gemm prints each micro-benchmark shape's GFLOP/s and its share of the FMA peak at the clock given", async () => {
    const out = await bench(["--gemm", "--kernels", "wasm", "--ghz", "4"]);
    expect(out).toMatch(/clock: 4\.00 GHz, from given with --ghz; FMA peak of one core 16 flop\/cycle = 64\.0 GFLOP\/s/);
    const rows = [...out.matchAll(/^ {2}(\d+×\d+×\d+ [NT]{2}) +([\d.]+) +([\d.]+) %$/gm)];
    expect(rows.map((m) => m[1])).toEqual(["256×256×256 NN", "256×256×256 NT", "256×256×256 TN", "1024×1024×1024 NN"]);
    for (const [, , gflops, share] of rows) expect(Number(share)).toBeCloseTo((100 * Number(gflops)) / 64, 0);
  }, 60_000);

  it("LSTM L: the peak of bptt train (one layer, no dropout, as the row) is within 2× of what the model needs", () => {
    const node = bareNodePeak().peakMiB;
    const peak = trainingPeak({ H: 1024, T: 50, B: 64 }, 1, "lstm").peakMiB;
    const P = paramCount({ cell: "lstm", nonlinearity: "tanh", layers: 1, hiddenSize: 1024, vocabSize: 65, bias: true });
    const needs = ((4 * P + cellOf("lstm").layer.bufferFloats(50, 64, 1024) + 50 * 64 * 65) * 4) / 2 ** 20;
    // 1.5× on the 2-core machine; 3.4× when the run trained the CLI's default model (2 layers, dropout) instead
    expect((peak - node) / needs).toBeLessThan(2);
  }, 120_000);

  it("measures a larger model as a larger peak (the child's own memory, not this process's)", () => {
    const node = bareNodePeak().peakMiB;
    const small = trainingPeak({ H: 16, T: 10, B: 4 }, 1).peakMiB;
    const large = trainingPeak({ H: 512, T: 50, B: 64 }, 1).peakMiB; // activations alone 12.5 MiB
    expect(node).toBeGreaterThan(10);
    expect(small).toBeGreaterThan(node);
    expect(large - small).toBeGreaterThan(12);
  }, 60_000);
});
