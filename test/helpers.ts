/**
 * Shared test helpers: comparing a float32 result with the float64 oracle, tensor by tensor;
 * running the CLI in-process; temporary directories that go away with the suite or test that made them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, onTestFinished } from "vitest";
import { main } from "../src/cli/main.ts";
import type { Kernels } from "../src/kernels/types.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { paramSpecs, type FloatArray } from "../src/model/params.ts";
import { normwiseRelError } from "../src/reference/gradcheck.ts";
import type { Rng } from "../src/rng.ts";

export { normwiseRelError };

/** What one `bptt` invocation printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run the `bptt` CLI in-process with captured output (stderr is not a terminal).
 * @param argv arguments after `bptt`
 */
export async function runCli(...argv: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTTY: false });
  return { code, stdout, stderr };
}

/**
 * A new directory under the system's temp directory, removed with its contents when the suite ends.
 * @param prefix the directory's name before mkdtemp's random tail
 * @returns its path; call at a file's top level or in a describe body (it registers an afterAll)
 */
export function suiteTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A new directory under the system's temp directory, removed with its contents when the test ends.
 * @param prefix the directory's name before mkdtemp's random tail
 * @returns its path; call inside a test (it registers an onTestFinished)
 */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Per-tensor normwise relative errors of flat gradients in the paramSpecs layout.
 * @returns tensor name → error
 */
export function errorsByTensor(config: ModelConfig, got: FloatArray, want: FloatArray): Map<string, number> {
  const errors = new Map<string, number>();
  for (const s of paramSpecs(config)) {
    errors.set(s.name, normwiseRelError(got.subarray(s.offset, s.offset + s.size), want.subarray(s.offset, s.offset + s.size)));
  }
  return errors;
}

/** Every combination of the values of each key. */
export function grid<T extends Record<string, readonly unknown[]>>(axes: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(axes)) {
    out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  }
  return out as { [K in keyof T]: T[K][number] }[];
}

/**
 * Seeded values uniform in [−2, 2], for a unit's tests.
 * @returns n float64 values
 */
export function randomValues(n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform(-2, 2));
}

/**
 * A float32 array in the kernels' own memory holding `values`, remembered in `owned` so the test can free it.
 * @returns the array
 */
export function inKernelMemory(k: Kernels, values: ArrayLike<number>, owned: Float32Array[]): Float32Array {
  const a = k.allocate(values.length);
  owned.push(a);
  a.set(values);
  return a;
}
