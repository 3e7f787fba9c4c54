/**
 * `npm run bench`'s contract (the issue's "--shape M --json" interface, at the quickest shape) and
 * its memory measurement: the peak RSS of a real `bptt train` in a process of its own.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { bareNodePeak, cliBuilt, trainingPeak } from "../bench/memory.ts";

const root = join(import.meta.dirname, "..");

describe.runIf(cliBuilt())("npm run bench", () => {
  it("--shape S --quick --json prints one JSON object per row with speed, threads, memory and the machine", async () => {
    const vite = join(root, "node_modules", ".bin", "vite-node");
    const { stdout } = await promisify(execFile)(vite, [join(root, "bench", "train-step.ts"), "--shape", "S", "--quick", "--json"], { cwd: root });
    const rows = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThanOrEqual(1); // S runs on one thread only: one row
    for (const r of rows) {
      expect(r).toMatchObject({ shape: "S", H: 100, T: 25, B: 1, kernels: "wasm", threads: 1 });
      for (const key of ["tokensPerSec", "gflops", "peakRssMiB", "nodeRssMiB", "needsMiB", "memoryOverNeeds"]) {
        expect(r[key], key).toBeGreaterThan(0);
      }
      expect(r["peakRssMiB"] as number).toBeGreaterThan(r["nodeRssMiB"] as number);
      expect(r["machine"]).toMatchObject({ cores: expect.any(Number), cpu: expect.any(String) });
    }
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
