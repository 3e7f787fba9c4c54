/**
 * `bptt train --threads 2` when a worker thread dies mid-step (issue 19 §3), as a real process: the
 * test hook BPTT_TEST_WORKER_FAULT (src/model/thread-worker.ts `testFault`) makes the first worker
 * call process.exit in the middle of its fifth job (step 5), after the checkpoint of step 3. The
 * command must end on its own with exit code 1 and one message naming the thread, well within the
 * engine's bound (threaded.ts `workerTimeout`: 30 s at least), and leave the checkpoint of step 3
 * as it was, for `--resume`. Without the bounded wait the engine's thread waits forever (this test
 * then times out). The other ways to die (an uncaught error, out of memory, a hang) and the bound's
 * formula are tested on the library in test/threaded.test.ts.
 *
 * bin/bptt.js runs the built dist/. When dist/ is older than src/ (a change not yet built), the
 * test builds src/ into a directory of its own (tsc -p tsconfig.build.json --outDir, ~7 s) and runs
 * that, so that it never tests stale code nor rewrites dist/ under other tests' feet.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { randomMarkovSource, sampleMarkov } from "../src/data/markov.ts";
import { loadCheckpoint } from "../src/io/checkpoint-file.ts";
import { wasmSimdSupported } from "../src/kernels/wasm.ts";
import { threadsSupported } from "../src/model/threaded.ts";
import { Rng } from "../src/rng.ts";
import { suiteTempDir } from "./helpers.ts";

const ROOT = join(import.meta.dirname, "..");
const dir = suiteTempDir("bptt-thread-death-");
/** rnn H 128, T 25, B 16: ~45 MFLOP a step, so chooseThreads gives it both threads; a few ms a step. */
const shape = ["--cell", "rnn", "--layers", "1", "--hidden", "128", "--seq-length", "25", "--batch-size", "16", "--output-dropout", "0"];

let bin: string;
let text: string;

beforeAll(() => {
  bin = currentBin();
  text = join(dir, "text.txt");
  writeFileSync(text, sampleMarkov(randomMarkovSource(20, 4), 40_000, new Rng(8)));
}, 120_000);

/** What a `bptt` process printed, when, and how it ended. */
interface Run {
  readonly code: number | null;
  readonly stderr: string;
  /** The --json lines of stdout, each with the time it arrived (performance.now()). */
  readonly events: readonly { readonly at: number; readonly event: { readonly type: string; readonly [key: string]: unknown } }[];
  /** performance.now() at the exit. */
  readonly exitAt: number;
}

/** Run `node bin/bptt.js ...args` with `env` added; killed (code null) after `limitMs`. */
async function bptt(args: readonly string[], env: Record<string, string>, limitMs: number): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const events: { at: number; event: { type: string } }[] = [];
  let stderr = "", pending = "";
  child.stdout.on("data", (d: Buffer) => {
    const at = performance.now();
    const lines = (pending + d.toString()).split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) if (l.trim() !== "") events.push({ at, event: JSON.parse(l) as { type: string } });
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const exitAt = performance.now();
  clearTimeout(timer);
  return { code, stderr, events, exitAt };
}

const stepOf = (path: string): number => (JSON.parse(loadCheckpoint(path).metadata["train"] ?? "{}") as { step: number }).step;

describe.runIf(threadsSupported() && wasmSimdSupported())("bptt train --threads 2: a worker thread that dies mid-step", () => {
  it("exits 1 with one message naming the thread, within the bound; the last checkpoint is intact and resumes", async () => {
    const out = join(dir, "m.safetensors");
    const args = ["train", "--data", text, ...shape, "--threads", "2", "--steps", "8", "--eval-every", "0", "--checkpoint-every", "3", "--json", "--out", out];
    // the hook: worker thread 1 calls process.exit(7) at its 5th job, step 5 (one job a step, no validation)
    const died = await bptt(args, { BPTT_TEST_WORKER_FAULT: "exit:5" }, 60_000);
    expect(died.code, died.stderr).toBe(1); // null: killed after 60 s, i.e. it hung
    const lines = died.stderr.split("\n").filter((l) => /worker thread/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^bptt train: worker thread 1 ended before finishing its job: it exited with code 7\. Its job's results are lost/);
    const types = died.events.map((e) => e.event.type);
    const steps = died.events.filter((e) => e.event.type === "step");
    expect(steps.map((e) => e.event["step"])).toEqual([1, 2, 3, 4]);
    expect(steps.every((e) => e.event["threads"] === 2)).toBe(true); // really on 2 threads
    expect(died.events.filter((e) => e.event.type === "checkpoint").map((e) => e.event["step"])).toEqual([3]); // none from the broken step
    expect(types.at(-1)).toBe("error");
    expect(died.events.at(-1)?.event["error"]).toBe("ThreadError");
    // from the last step reported (step 5 started right after it) to the process's exit
    const killToExitMs = died.exitAt - (steps.at(-1)?.at ?? 0);
    console.log(`thread death: ${killToExitMs.toFixed(0)} ms from step 4's event to the exit (the bound: 30 s)`);
    expect(killToExitMs).toBeLessThan(30_000);

    // the checkpoint of step 3, as written, and a run resumed from it
    expect(stepOf(out)).toBe(3);
    const resumed = await bptt(["train", "--data", text, "--resume", out, "--steps", "8", "--eval-every", "0", "--json"], {}, 60_000);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events.find((e) => e.event.type === "step")?.event["step"]).toBe(4);
    expect(stepOf(out)).toBe(8);
  });
});

/**
 * bin/bptt.js when dist/ is built from the current src/ (and has the kernels), else a copy of it
 * beside a build of src/ in this suite's temporary directory.
 */
function currentBin(): string {
  const src = join(ROOT, "src"), dist = join(ROOT, "dist");
  const wasm = ["kernels.wasm", "kernels-fma.wasm"];
  if (!wasm.every((f) => existsSync(join(dist, "kernels", f)))) throw new Error("dist/kernels/*.wasm are missing: run npm run build (npm ci does)");
  const stale = sources(src).some((file) => {
    const built = join(dist, relative(src, file)).replace(/\.ts$/, ".js");
    return !existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs;
  });
  if (!stale) return join(ROOT, "bin", "bptt.js");
  const own = join(dir, "build");
  // tsc writes its output even where it reports type errors (another change may be half done): the run says if it works
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "tsconfig.build.json"), "--outDir", join(own, "dist")], { encoding: "utf8" });
  if (!existsSync(join(own, "dist", "cli", "main.js"))) throw new Error(`building src/ failed:\n${tsc.stdout}${tsc.stderr}`);
  for (const f of wasm) copyFileSync(join(dist, "kernels", f), join(own, "dist", "kernels", f));
  symlinkSync(join(ROOT, "node_modules"), join(own, "node_modules"), "dir"); // the package's dependencies (protobufjs)
  mkdirSync(join(own, "bin"));
  copyFileSync(join(ROOT, "bin", "bptt.js"), join(own, "bin", "bptt.js"));
  return join(own, "bin", "bptt.js");
}

/** The .ts files under `d` that tsconfig.build.json compiles (no tests, no AssemblyScript). */
function sources(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = join(d, e.name);
    if (e.isDirectory()) return e.name === "assembly" ? [] : sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}
