/**
 * The soak of issue 13: `bptt train` with its defaults (LSTM 2×192, B 32, T 50, validation every
 * 500 steps, a checkpoint every 1000) on the bundled corpus for BPTT_SOAK_MINUTES (default 30)
 * through the built CLI, with the child's resident set (VmRSS, VmHWM) and CPU time (utime + stime,
 * all threads) read from /proc every SAMPLE_SECONDS beside its step events. It passes when
 *  - the run ends cleanly: exit 0, a done event stopped by the time budget at the last step, and a
 *    checkpoint that loads, with that step, after at least two validations and one periodic checkpoint;
 *  - RSS stays flat: the median of the last COMPARE minutes is at most RSS_BOUND above the median of
 *    the COMPARE minutes after the first (medians, so that one GC's spike decides nothing);
 *  - the step does not slow down: CPU seconds per step (training intervals only, windows.ts) over
 *    those last minutes is at most CPU_BOUND above the early figure. CPU time, not wall time: on a
 *    shared machine other processes stretch the wall clock far more than a process's own CPU time.
 * It prints a table a minute a row (and writes it, with every sample, to BPTT_SOAK_REPORT if set).
 * Linux only (/proc); `npm run test:soak` builds the CLI first (not the WebAssembly kernels: npm run build:wasm).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { loadCheckpoint } from "../../src/io/checkpoint-file.ts";
import { TRAIN_DEFAULTS } from "../../src/train/options.ts";
import { busySpans, windowFigures, type Arrival, type Sample, type WindowFigures } from "./windows.ts";

const MiB = 2 ** 20;
const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "bptt.js");
const MINUTES = soakMinutes(process.env["BPTT_SOAK_MINUTES"]);
const SAMPLE_SECONDS = 2;
/** Minutes in each of the two windows compared: 2, or 1 for a trial of under 5 minutes. */
const COMPARE = MINUTES >= 5 ? 2 : 1;
/**
 * Growth allowed of the median RSS, late against early: 24 MiB, on a resident set of ~110–130 MiB.
 * What moves it without a leak, measured here (30 minutes, 2 cores): V8 commits and releases pages
 * of its young generation as the allocation rate changes, so a change in the machine's load shifts
 * the per-minute medians by up to ~14 MiB either way (the summary warns when the other processes'
 * load differs between the two windows). A leak of the kind that matters is far past the bound: one
 * kept copy of the checkpoint's tensors (parameters and Adam's two moments, 5.8 MiB) per checkpoint
 * is 100+ MiB over 30 minutes; 24 MiB over the ~30,000 steps between the windows is ~800 bytes a step
 * (the summary prints the run's own figure).
 */
// History: first set at 8 MiB, raised to 24 before landing (load changes alone moved the medians by
// up to 14 MiB). A CI run then failed at +41.3 MiB: the engines made ~90 KiB of garbage a step (the
// kernel binding's argument lists, views rebuilt as training and validation alternated), so the
// workers' young generations grew and views rebuilt at each validation piled up in old space (not
// malloc arenas, as first thought). With that garbage down to ~3 KiB a step (61c32bb, f4832b6), 30
// minutes measured +7.5 MiB here (113.0 → 120.5 MiB, flat from minute 20 on, VmHWM 120.8 → 121.6).
const RSS_BOUND = 24 * MiB;
/**
 * Growth allowed of the CPU seconds per step, late against early: 10 %. Measured here, the
 * per-minute figures spread over 110–124 ms, other processes' load raising them by ~5 % (shared
 * caches and memory bandwidth) and the 2-minute windows compared moving by ≤ 3 %; a real drift —
 * work or garbage growing with the steps done — keeps growing and passes 10 % long before it matters.
 */
const CPU_BOUND = 0.1;
/** A change in the other processes' load, in cores, between the windows compared that the summary warns of. */
const LOAD_CHANGE = 0.5;
const TOKENS_PER_STEP = TRAIN_DEFAULTS.batchSize * TRAIN_DEFAULTS.seqLength;
const TICKS_PER_SECOND = clockTicks();

const dir = mkdtempSync(join(tmpdir(), "bptt-soak-"));
let child: ChildProcess | undefined;
afterAll(() => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const built = existsSync(join(ROOT, "dist", "cli", "main.js"));
const linux = existsSync("/proc/self/stat");
const problem = !built ? "the built CLI (npm run build; npm run test:soak builds it)" : !linux ? "Linux's /proc" : undefined;
if (problem !== undefined) console.warn(`SKIPPED: the soak needs ${problem}`);

describe.skipIf(problem !== undefined)(`bptt train for ${MINUTES} minutes`, () => {
  it("ends cleanly with a flat resident set and a steady CPU time per step", async () => {
    const run = await soak();
    const { samples, arrivals, done, checkpoints, evals } = run;
    expect(run.code, run.stderrTail).toBe(0);
    const lastStep = arrivals.filter((a) => a.type === "step").at(-1);
    expect(done, run.stderrTail).toBeDefined();
    expect(lastStep).toBeDefined();
    if (done === undefined || lastStep === undefined) return;
    expect(done.stoppedBy).toBe("time");
    expect(done.step).toBe(run.steps);
    expect(evals).toBeGreaterThanOrEqual(2);
    expect(checkpoints.filter((r) => r === "every").length).toBeGreaterThanOrEqual(1);
    const ckpt = loadCheckpoint(join(dir, "model.safetensors"));
    expect(ckpt.config).toMatchObject({ cell: TRAIN_DEFAULTS.cell, layers: TRAIN_DEFAULTS.layers, hiddenSize: TRAIN_DEFAULTS.hiddenSize });
    expect(JSON.parse(ckpt.metadata["train"] ?? "{}")).toMatchObject({ step: done.step });

    const busy = busySpans(arrivals, run.seconds);
    const tEnd = lastStep.t;
    const minutes: WindowFigures[] = [];
    for (let m = 0; m * 60 < run.seconds; m++) {
      const w = windowFigures(samples, busy, m * 60, Math.min((m + 1) * 60, run.seconds), TOKENS_PER_STEP);
      if (w.steps > 0) minutes.push(w); // not the last seconds: the final validation, checkpoint and samples
    }
    const early = windowFigures(samples, busy, 60, 60 * (1 + COMPARE), TOKENS_PER_STEP);
    const late = windowFigures(samples, busy, tEnd - 60 * COMPARE, tEnd, TOKENS_PER_STEP);
    const rssGrowth = late.rssMedian - early.rssMedian;
    const cpuGrowth = late.cpuPerStep / early.cpuPerStep - 1;
    const stepsBetween = stepsAt(samples, late.from) - stepsAt(samples, early.from);
    const report = [
      `soak: bptt train (defaults: ${TRAIN_DEFAULTS.cell} ${TRAIN_DEFAULTS.layers}×${TRAIN_DEFAULTS.hiddenSize}, B ${TRAIN_DEFAULTS.batchSize}, T ${TRAIN_DEFAULTS.seqLength}, ` +
        `${done.threads} threads) --time ${MINUTES * 60}: ${done.step} steps in ${run.seconds.toFixed(0)} s, ${evals} validations, ${checkpoints.length} checkpoints, ` +
        `${samples.length} samples every ${SAMPLE_SECONDS} s`,
      table(minutes),
      `RSS (median): ${mib(early.rssMedian)} MiB over minutes ${label(early)} → ${mib(late.rssMedian)} MiB over ${label(late)}: ` +
        `${signed(rssGrowth / MiB, 1)} MiB (bound +${RSS_BOUND / MiB} MiB = ${(RSS_BOUND / stepsBetween).toFixed(0)} bytes a step over the ${stepsBetween} steps between); ` +
        `VmHWM ${mib(early.hwm)} → ${mib(late.hwm)} MiB`,
      `CPU per step (training intervals): ${ms(early.cpuPerStep)} → ${ms(late.cpuPerStep)} ms: ${signed(cpuGrowth * 100, 1)} % (bound +${CPU_BOUND * 100} %); ` +
        `all intervals ${ms(early.cpuPerStepAll)} → ${ms(late.cpuPerStepAll)} ms`,
      `wall clock: ${kilo(early.tokensPerSec)} → ${kilo(late.tokensPerSec)} k tokens/s (done event: ${kilo(done.tokensPerSec)} k for the whole run); ` +
        `other processes kept ${early.otherCores.toFixed(2)} → ${late.otherCores.toFixed(2)} cores busy (max ${Math.max(...minutes.map((w) => w.otherCores)).toFixed(2)} in a minute, of ${availableParallelism()})`,
      ...(Math.abs(late.otherCores - early.otherCores) > LOAD_CHANGE
        ? [`warning: the load of other processes changed between the two windows; V8's young generation follows the allocation rate, so their RSS differs by up to ~14 MiB for that alone, and the CPU time per step by a few %`]
        : []),
    ].join("\n");
    console.log(report);
    const reportPath = process.env["BPTT_SOAK_REPORT"];
    if (reportPath !== undefined && reportPath !== "") {
      writeFileSync(reportPath, JSON.stringify({ minutes: MINUTES, done, early, late, rssGrowth, cpuGrowth, windows: minutes, busy, samples }, null, 1));
    }
    expect(rssGrowth, report).toBeLessThanOrEqual(RSS_BOUND);
    expect(cpuGrowth, report).toBeLessThanOrEqual(CPU_BOUND);
  }, (MINUTES + 5) * 60_000);
});

/** The done event's fields the soak reads. */
interface DoneEvent {
  readonly step: number;
  readonly stoppedBy: string;
  readonly tokensPerSec: number;
  readonly threads: number;
}

/** What one soak run recorded. */
interface SoakRun {
  readonly code: number | null;
  /** Seconds from the spawn to the exit. */
  readonly seconds: number;
  readonly samples: Sample[];
  readonly arrivals: Arrival[];
  /** The step of the last step event. */
  readonly steps: number;
  readonly evals: number;
  /** The checkpoint events' reasons. */
  readonly checkpoints: string[];
  readonly done: DoneEvent | undefined;
  readonly stderrTail: string;
}

/** Spawn the CLI, sample it until it exits, and collect its events. */
async function soak(): Promise<SoakRun> {
  const args = [BIN, "train", "--time", String(MINUTES * 60), "--json", "--out", join(dir, "model.safetensors")];
  const t0 = performance.now();
  const now = (): number => (performance.now() - t0) / 1000;
  // BPTT_KERNELS=wasm: the kernels a default run picks, but required, so that a missing or half-
  // written dist/kernels/*.wasm fails the soak instead of soaking the portable kernels (some 40× slower)
  const env = { ...process.env, BPTT_KERNELS: "wasm" };
  const proc = spawn(process.execPath, args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  child = proc;
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`could not start ${process.execPath} ${args.join(" ")}`);
  const samples: Sample[] = [];
  const arrivals: Arrival[] = [];
  const checkpoints: string[] = [];
  let steps = 0, evals = 0, stderrTail = "";
  let done: DoneEvent | undefined;
  let nextReport = 5;

  createInterface({ input: proc.stdout }).on("line", (line) => {
    const t = now();
    const e: unknown = JSON.parse(line);
    const type = field(e, "type");
    if (typeof type !== "string") throw new Error(`expected a JSON event with a type; received ${line.slice(0, 200)}`);
    arrivals.push({ t, type });
    if (type === "step") steps = num(e, "step");
    else if (type === "eval") evals++;
    else if (type === "checkpoint") checkpoints.push(String(field(e, "reason")));
    else if (type === "done") {
      done = { step: num(e, "step"), stoppedBy: String(field(e, "stoppedBy")), tokensPerSec: num(e, "tokensPerSec"), threads: num(e, "threads") };
    }
  });
  proc.stderr.setEncoding("utf8").on("data", (text: string) => (stderrTail = (stderrTail + text).slice(-4000)));

  const take = (): void => {
    const s = readSample(pid, now(), steps);
    if (s === undefined) return;
    samples.push(s);
    if (s.t >= nextReport * 60) {
      console.log(`soak: ${nextReport}/${MINUTES} min, step ${steps}, RSS ${mib(s.rss)} MiB, ${ms(s.cpu / Math.max(steps, 1))} ms CPU a step so far`);
      nextReport += 5;
    }
  };
  take();
  const timer = setInterval(take, SAMPLE_SECONDS * 1000);
  const code = await new Promise<number | null>((resolve) => proc.on("close", (c) => resolve(c)));
  clearInterval(timer);
  return { code, seconds: now(), samples, arrivals, steps, evals, checkpoints, done, stderrTail };
}

/**
 * One reading of /proc for the child `pid`.
 * @returns undefined once the child has gone (or is a zombie, with no VmRSS line)
 */
function readSample(pid: number, t: number, steps: number): Sample | undefined {
  let status: string, stat: string, machine: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    machine = readFileSync("/proc/stat", "utf8");
  } catch {
    return undefined;
  }
  const kib = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m === null ? undefined : Number(m[1]) * 1024;
  };
  const rss = kib("VmRSS"), hwm = kib("VmHWM");
  if (rss === undefined || hwm === undefined) return undefined;
  // /proc/<pid>/stat: "pid (comm) state ..." — utime and stime are fields 14 and 15, in clock ticks
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...; busy is all but idle and iowait
  const all = (machine.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const busyTicks = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (all[i] ?? 0), 0);
  return { t, rss, hwm, cpu, machineCpu: busyTicks / TICKS_PER_SECOND, steps };
}

/** USER_HZ, the unit of /proc's CPU times: getconf's, else Linux's 100. */
function clockTicks(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = r.status === 0 ? Number(r.stdout.trim()) : NaN;
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** BPTT_SOAK_MINUTES: a number of minutes ≥ 3 (a warm-up minute and two windows to compare). */
function soakMinutes(value: string | undefined): number {
  if (value === undefined || value === "") return 30;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 3) throw new Error(`BPTT_SOAK_MINUTES must be a number of minutes ≥ 3; received "${value}"`);
  return n;
}

/** The steps done by the first sample at or after `t`. */
function stepsAt(samples: readonly Sample[], t: number): number {
  return samples.find((s) => s.t >= t)?.steps ?? NaN;
}

function field(e: unknown, key: string): unknown {
  return typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined;
}

function num(e: unknown, key: string): number {
  const v = field(e, key);
  if (typeof v !== "number") throw new Error(`expected a number in the event's "${key}"; received ${JSON.stringify(v)}`);
  return v;
}

/** The per-minute table. */
function table(windows: readonly WindowFigures[]): string {
  const head = ["minute", "RSS med MiB", "RSS max MiB", "HWM MiB", "steps", "CPU ms/step", "(all)", "k tok/s", "val+ckpt", "others' cores"];
  const rows = windows.map((w) => [
    label(w), mib(w.rssMedian), mib(w.rssMax), mib(w.hwm), String(w.steps), ms(w.cpuPerStep), ms(w.cpuPerStepAll),
    kilo(w.tokensPerSec), String(w.busy), w.otherCores.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ")).join("\n");
}

function label(w: WindowFigures): string {
  return `${(w.from / 60).toFixed(1)}–${(w.to / 60).toFixed(1)}`;
}
function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}
function ms(seconds: number): string {
  return (seconds * 1000).toFixed(1);
}
function kilo(perSecond: number): string {
  return (perSecond / 1000).toFixed(1);
}
function signed(x: number, digits: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;
}
