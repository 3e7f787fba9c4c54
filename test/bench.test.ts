/**
 * `npm run bench`'s contract (the issue's "--shape M --json" interface, at the quickest shape, and
 * one gated cell's row) and its memory measurement: the peak RSS of a real `bptt train` in a
 * process of its own.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { bareNodePeak, cliBuilt, trainingPeak } from "../bench/memory.ts";
import { cellOf } from "../src/cells/index.ts";
import { paramCount } from "../src/model/params.ts";

const root = join(import.meta.dirname, "..");

/** Run bench/train-step.ts with `args` and parse its JSON lines. */
async function benchRows(args: readonly string[]): Promise<Record<string, unknown>[]> {
  const vite = join(root, "node_modules", ".bin", "vite-node");
  const { stdout } = await promisify(execFile)(vite, [join(root, "bench", "train-step.ts"), ...args, "--quick", "--json"], { cwd: root });
  return stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The fields every row has: speed, memory (the CLI's run), the machine. */
function expectMeasured(r: Record<string, unknown>): void {
  for (const key of ["tokensPerSec", "gflops", "peakRssMiB", "nodeRssMiB", "needsMiB", "memoryOverNeeds"]) {
    expect(r[key], key).toBeGreaterThan(0);
  }
  expect(r["peakRssMiB"] as number).toBeGreaterThan(r["nodeRssMiB"] as number);
  expect(r["machine"]).toMatchObject({ cores: expect.any(Number), cpu: expect.any(String) });
}

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
    expect(profile.map((e) => e.kernel)).toEqual(expect.arrayContaining(["gruCellForward", "gruCellBackward", "gemm 32×768×256 NT"]));
  }, 60_000);

  it("measures a larger model as a larger peak (the child's own memory, not this process's)", () => {
    const node = bareNodePeak().peakMiB;
    const small = trainingPeak({ H: 16, T: 10, B: 4 }, 1).peakMiB;
    const large = trainingPeak({ H: 512, T: 50, B: 64 }, 1).peakMiB; // activations alone 12.5 MiB
    expect(node).toBeGreaterThan(10);
    expect(small).toBeGreaterThan(node);
    expect(large - small).toBeGreaterThan(12);
  }, 60_000);
});
