/**
 * Issue 13: a hard kill loses nothing but the steps since the last checkpoint, and a full disk
 * stops a run with the file on disk intact and a message that says how to go on.
 *
 * The reference: the library's `train`, in this process, with the options the CLI gets as flags
 * (threads 1: the arithmetic is then the same in both), fingerprinting every checkpoint it
 * hands to `save` (its step, the sha256 of its file bytes and of its tensors). An uninterrupted
 * `bptt train` first ends on the reference's final bytes. Then, for a small model and a larger
 * one (whose checkpoint write takes tens of ms, so that kills land in the middle of writes),
 * `bptt train --checkpoint-every 1` is killed with SIGKILL at random moments (a seeded draw, its
 * seed printed; BPTT_KILL_SEED=n draws the same numbers again), and resumed from
 * whatever is on disk, which is killed in turn, and so on. After each kill the checkpoint on disk
 * must load, be one of the reference's states (step, tensors and bytes), hold at least the last
 * step the process reported saved and at most the last it reported trained, and never go back; at
 * most one temporary file (the killed write's) may be left. A run the kill missed must end on the
 * reference's final bytes, and so must the resume after the last kill, with no temporary file left.
 *
 * With the disk full (a real tmpfs, mounted as root; skipped loudly where it cannot be), a
 * periodic save that does not fit stops the run with exit code 1 and one paragraph naming the
 * file, the full disk, the step on disk and the resume command, which, once there is room, ends
 * the run on the reference's bytes; a final save that does not fit leaves nothing; a temporary
 * file of a killed write never stands in the way of the next save. The larger model's kills run
 * on a tmpfs with room for 2.5 checkpoints (a file and one write in progress), so a temporary
 * file a kill left and no later write removed would fill it.
 * Bounded: a fixed number of kills per model, fewer when its time share runs out.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomInt } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCorpusFile } from "../../src/data/node-files.ts";
import { checkpointToParts, type Checkpoint } from "../../src/io/checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/io/checkpoint-file.ts";
import { Rng } from "../../src/rng.ts";
import { TRAIN_SCHEMA, type SchemaKey } from "../../src/train/schema.ts";
import { train, type CheckpointEvent, type TrainOptions } from "../../src/train/trainer.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "bptt.js");
const SEED = process.env["BPTT_KILL_SEED"] === undefined ? randomInt(2 ** 31) : Number(process.env["BPTT_KILL_SEED"]);
console.log(`kill test: seed ${SEED} (BPTT_KILL_SEED=${SEED} draws the same random numbers again; the kill moments also scale with the timing measured)`);

type Flags = Partial<Pick<TrainOptions, SchemaKey>>;

/** One model of the kill loop, with its share of the test's time. */
interface Model {
  readonly name: string;
  readonly options: Flags;
  /** SIGKILLs to send, at most. */
  readonly kills: number;
  /** Seconds the kill loop may take; it stops after the kill that overruns them. */
  readonly seconds: number;
  /** Run it in a tmpfs with room for this many checkpoints (when one can be mounted). */
  readonly tmpfsCheckpoints?: number;
}

const COMMON: Flags = { checkpointEvery: 1, threads: 1, evalEvery: 0, valChars: 200, sampleEvery: 0, seed: 7 };
const SMALL: Model = {
  name: "small (LSTM 1×32, 167 kB checkpoint)",
  options: { ...COMMON, cell: "lstm", layers: 1, hiddenSize: 32, seqLength: 16, batchSize: 4, steps: 150 },
  kills: 20,
  seconds: 25,
};
const LARGE: Model = {
  name: "larger (LSTM 2×384, 23 MB checkpoint)",
  options: { ...COMMON, cell: "lstm", layers: 2, hiddenSize: 384, seqLength: 4, batchSize: 2, steps: 30 },
  kills: 20,
  seconds: 35,
  tmpfsCheckpoints: 2.5,
};

// ---- the reference trajectory --------------------------------------------------------------

/** A checkpoint, by what identifies it. */
interface State {
  readonly step: number;
  /** sha256 of the file's bytes. */
  readonly file: string;
  /** sha256 of its tensors (names, shapes and float bytes), independent of the file layout. */
  readonly tensors: string;
  readonly bytes: number;
}

function stepOf(ckpt: Checkpoint): number {
  const state: unknown = JSON.parse(ckpt.metadata["train"] ?? "null");
  if (typeof state !== "object" || state === null || !("step" in state) || typeof state.step !== "number") throw new Error("no training step in the checkpoint");
  return state.step;
}

function fingerprint(ckpt: Checkpoint): State {
  const file = createHash("sha256");
  let bytes = 0;
  for (const part of checkpointToParts(ckpt)) {
    file.update(part);
    bytes += part.length;
  }
  const tensors = createHash("sha256");
  const view = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  tensors.update("params").update(view(ckpt.params));
  for (const name of [...ckpt.extra.keys()].sort()) {
    const t = ckpt.extra.get(name);
    if (t !== undefined) tensors.update(`${name} ${t.dtype} ${t.shape.join(",")}`).update(view(t.data));
  }
  return { step: stepOf(ckpt), file: file.digest("hex"), tensors: tensors.digest("hex"), bytes };
}

/** Every checkpoint the library's `train` writes with these options, in order; the last is the final one. */
async function reference(data: string, options: Flags): Promise<State[]> {
  const states: State[] = [];
  await train({ text: readCorpusFile(data), ...options }, { save: (ckpt) => void states.push(fingerprint(ckpt)) });
  return states;
}

/** The flags of `bptt train` that give these options (the option table's names). */
function cliFlags(options: Flags, keys: readonly SchemaKey[] = Object.keys(options) as SchemaKey[]): string[] {
  const out: string[] = [];
  for (const key of keys) {
    const def = TRAIN_SCHEMA[key];
    const value = options[key];
    if (value === undefined) continue;
    if (def.kind === "flag") {
      if (value !== def.default) out.push(`--${def.flag}`);
    } else {
      out.push(`--${def.flag}`, String(value));
    }
  }
  return out;
}

/**
 * Check that the checkpoint at `path` loads and is one of the reference's states.
 * @returns its state
 */
function expectReferenceState(path: string, ref: readonly State[], context: string): State {
  const ckpt = loadCheckpoint(path);
  const got = fingerprint(ckpt);
  const file = createHash("sha256").update(readFileSync(path)).digest("hex");
  const same = ref.filter((s) => s.step === got.step);
  expect(same.length, `${context}: step ${got.step} is not a step the run passed through`).toBeGreaterThan(0);
  expect(same.map((s) => s.tensors), `${context}: the tensors at step ${got.step} differ from the reference's`).toContain(got.tensors);
  expect(same.map((s) => s.file), `${context}: the file of step ${got.step} differs from the reference's`).toContain(file);
  expect(got.file, `${context}: the file re-serialized differs from the file read`).toBe(file);
  return got;
}

// ---- the CLI in a child process ------------------------------------------------------------

/**
 * When to send SIGKILL: this long after the start ("time"); this long after the process reported
 * a step ("step"); or this long after the temporary file of a write that follows a reported step
 * appeared in `dir` ("write", seen through fs.watch: a kill in the middle of a write by design).
 */
type KillPlan =
  | { readonly kind: "time"; readonly ms: number }
  | { readonly kind: "step"; readonly step: number; readonly ms: number }
  | { readonly kind: "write"; readonly step: number; readonly ms: number; readonly dir: string };

const describePlan = (plan: KillPlan): string =>
  plan.kind === "time" ? `${plan.ms.toFixed(0)} ms after the start`
    : plan.kind === "step" ? `${plan.ms.toFixed(1)} ms after step ${plan.step}`
      : `${plan.ms.toFixed(1)} ms into the first write after step ${plan.step}`;

interface Outcome {
  readonly pid: number;
  readonly code: number | null;
  readonly killed: boolean;
  /** Steps the process reported trained, in order (--json "step" events). */
  readonly steps: readonly number[];
  /** Steps the process reported written (--json "checkpoint" events). */
  readonly checkpoints: readonly number[];
  readonly stderr: string;
  readonly ms: number;
  /** Milliseconds from the start to the first "step" event, when there was one. */
  readonly firstStepMs: number | undefined;
}

function bptt(args: readonly string[], plan?: KillPlan): Promise<Outcome> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  const steps: number[] = [];
  const checkpoints: number[] = [];
  let firstStepMs: number | undefined;
  let stderr = "";
  let pending = "";
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => void child.kill("SIGKILL");
  if (plan?.kind === "time") timer = setTimeout(kill, plan.ms);
  let armed = false; // "write": the step has been reported, the next temporary file of this process is the one
  let fired = false;
  let watcher: FSWatcher | undefined;
  if (plan?.kind === "write") {
    watcher = watch(plan.dir, (_event, name) => {
      if (armed && !fired && name?.startsWith(".") === true && name.includes(`.${child.pid}.`) && name.endsWith(".tmp")) {
        fired = true;
        if (plan.ms < 1) kill(); // a timer takes a millisecond at least; a small checkpoint's write is over by then
        else timer = setTimeout(kill, plan.ms);
      }
    });
  }
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const e = JSON.parse(line) as { type: string; step?: number; reason?: CheckpointEvent["reason"] };
      if (e.type === "step" && typeof e.step === "number") {
        firstStepMs ??= performance.now() - t0;
        steps.push(e.step);
        if (plan?.kind === "step" && timer === undefined && e.step >= plan.step) timer = setTimeout(kill, plan.ms);
        if (plan?.kind === "write" && e.step >= plan.step) armed = true;
      }
      if (e.type === "checkpoint" && typeof e.step === "number") checkpoints.push(e.step);
    }
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    // "close": the process has exited and its output is all read (a partial last line is dropped)
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      resolve({ pid: child.pid ?? -1, code, killed: signal === "SIGKILL", steps, checkpoints, stderr, ms: performance.now() - t0, firstStepMs });
    });
  });
}

/** The temporary files of writeFileAtomic in `dir`, with the process id in their name. */
function temps(dir: string): { name: string; pid: number }[] {
  return readdirSync(dir).flatMap((name) => {
    const m = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name);
    return m === null ? [] : [{ name, pid: Number(m[1]) }];
  });
}

// ---- tmpfs ---------------------------------------------------------------------------------

const TMPFS_MAGIC = 0x01021994;

/** @returns why a tmpfs of `kib` KiB cannot be mounted on `dir`, or undefined once it is */
function mountTmpfs(dir: string, kib: number, remount = false): string | undefined {
  const args = remount ? ["-o", `remount,size=${kib}k`, dir] : ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir];
  const r = spawnSync("mount", args, { encoding: "utf8" });
  if (r.error !== undefined) return `mount cannot run (${r.error.message})`;
  if (r.status !== 0) return `mount ${args.join(" ")} failed: ${r.stderr.trim() || `exit ${r.status}`}`;
  const st = statfsSync(dir);
  if (st.type !== TMPFS_MAGIC) return `${dir} is not a tmpfs after mount`;
  const size = st.blocks * st.bsize;
  if (Math.abs(size - kib * 1024) > 64 * 1024) return `the tmpfs on ${dir} has ${size} bytes; expected ${kib * 1024}`;
  return undefined;
}

function umount(dir: string): void {
  if (statfsSync(dir).type === TMPFS_MAGIC) spawnSync("umount", [dir]);
}

/** Bytes a file of `bytes` bytes takes on a tmpfs: whole pages. */
const pages = (bytes: number): number => Math.ceil(bytes / 4096) * 4096;
/** KiB of a tmpfs with room for `n` files of `bytes` bytes (whole pages each), in whole pages. */
const tmpfsKib = (bytes: number, n: number): number => Math.ceil((n * pages(bytes)) / 4096) * 4;

const work = mkdtempSync(join(tmpdir(), "bptt-kill-"));
const mounted = new Set<string>();
afterAll(() => {
  for (const dir of mounted) umount(dir); // after a failure inside withTmpfs's own finally
  rmSync(work, { recursive: true, force: true });
});

/**
 * Run `body` in a fresh directory with a tmpfs of `kib` KiB on it, unmounted afterwards whatever happens.
 * @returns what body returns, or the reason there cannot be a tmpfs (body does not run then)
 */
async function withTmpfs<T>(name: string, kib: number, body: (dir: string) => Promise<T> | T): Promise<{ value: T } | { problem: string }> {
  const dir = join(work, name);
  mkdirSync(dir);
  const problem = mountTmpfs(dir, kib);
  if (problem !== undefined) return { problem };
  mounted.add(dir);
  try {
    return { value: await body(dir) };
  } finally {
    umount(dir);
    mounted.delete(dir);
  }
}

/** Bytes in use on the tmpfs of `dir`. */
const usedBytes = (dir: string): number => {
  const st = statfsSync(dir);
  return (st.blocks - st.bfree) * st.bsize;
};

// whether this machine lets the test mount a tmpfs at all (root, a mount command, no sandbox against it)
const probe = await withTmpfs("probe", 64, () => undefined);
const noTmpfs = "problem" in probe ? probe.problem : undefined;
if (noTmpfs !== undefined) {
  console.warn(`SKIPPED: the disk-full tests on a real tmpfs, and the larger model's kills run on the temporary directory instead of a tight tmpfs: ${noTmpfs}`);
}

const data = join(work, "text.txt");
writeFileSync(data, readFileSync(join(ROOT, "data", "tinyshakespeare.txt")).subarray(0, 20_000));
const built = existsSync(join(ROOT, "dist", "cli", "main.js"));
if (!built) console.warn("SKIPPED: the kill tests need the built CLI (npm run build; npm run test:big builds it)");

// ---- the kill loop -------------------------------------------------------------------------

interface Tally {
  kills: number;
  beforeFirstCheckpoint: number;
  midWrite: number;
  duringResumeStartup: number;
  finishedBeforeTheKill: number;
  byPlan: Record<KillPlan["kind"], number>;
}

/**
 * Kill `bptt train` again and again in `dir` (see the header), then let it finish.
 * @param tmpfsKiB the size of the tmpfs `dir` is on, or undefined for the temporary directory, for the report
 * @returns what the kills hit
 */
async function killLoop(model: Model, ref: readonly State[], rng: Rng, dir: string, tmpfsKiB: number | undefined): Promise<Tally> {
  const steps = model.options.steps ?? 0;
  const final = ref.at(-1);
  if (final === undefined) throw new Error("empty reference");
  const out = join(dir, "m.safetensors");
  const fresh = ["train", "--data", data, ...cliFlags(model.options), "--out", out];
  // --resume alone: the checkpoint holds the budget, the cadences and the threads of the run it continues
  const resume = ["train", "--resume", out, "--data", data];
  const expectFinal = (o: Outcome, context: string): void => {
    expect(o.code, `${context}: ${o.stderr.slice(-1500)}`).toBe(0);
    expect(expectReferenceState(out, ref, context).file, `${context}: the run did not end on the reference's final checkpoint`).toBe(final.file);
    expect(temps(dir), `${context}: temporary files left after a completed run`).toEqual([]);
  };

  // the uninterrupted run: the CLI ends where the library does, and its timing sizes the kill moments
  const clean = await bptt(fresh);
  // (the CLI runs dist/, the reference src/: a difference here after a change to src/ asks for npx tsc -p tsconfig.build.json)
  expectFinal(clean, `${model.name}, uninterrupted (the CLI, from dist/, against the library, from src/: is dist/ built from this src/?)`);
  const startupMs = clean.firstStepMs ?? 0;
  const stepMs = (clean.ms - startupMs) / (steps + 4); // a step, its checkpoint, and a share of the end (validation, samples)
  // how long one write of this checkpoint takes, where the kills write it and on the temporary directory
  const ckpt = loadCheckpoint(out);
  rmSync(out);
  const writes = [dir, work].map((d) => writeMs(ckpt, d));
  const writeTime = writes[0] ?? stepMs;
  const writeWindow = Math.min(stepMs, 2 * writeTime);

  const tally: Tally = { kills: 0, beforeFirstCheckpoint: 0, midWrite: 0, duringResumeStartup: 0, finishedBeforeTheKill: 0, byPlan: { time: 0, step: 0, write: 0 } };
  const killed = new Set<number>();
  let onDisk: number | undefined; // the step the file holds
  const t0 = performance.now();
  while (tally.kills < model.kills && performance.now() - t0 < model.seconds * 1000) {
    const from = onDisk ?? 0;
    const resuming = onDisk !== undefined;
    // the first kill early in the start-up (before any checkpoint, unless this run is much faster than the uninterrupted one); then a quarter at any moment of the
    // process's life (start-up, loading, training, the end), a quarter in the cycle after a given
    // step (reported, then written: the report takes a few ms to arrive, hence twice the write
    // time), half inside the write of the step's checkpoint
    const u = rng.next();
    const step = from + 1 + rng.int(Math.max(steps - from, 1));
    const plan: KillPlan = tally.kills === 0 && !resuming
      ? { kind: "time", ms: rng.uniform(0, 0.6 * startupMs) }
      : u < 0.25
        ? { kind: "time", ms: rng.uniform(0, 1.1 * (startupMs + (steps - from + 4) * stepMs)) }
        : u < 0.5
          ? { kind: "step", step, ms: rng.uniform(0, writeWindow) }
          : { kind: "write", step, ms: rng.uniform(0, writeTime), dir };
    const o = await bptt(resuming ? resume : fresh, plan);
    const context = `${model.name}, kill ${tally.kills + 1} (pid ${o.pid}, ${describePlan(plan)}, ${resuming ? `resuming step ${from}` : "a new run"})`;
    if (!o.killed) {
      // the kill came too late: the run ended on its own
      expectFinal(o, context);
      tally.finishedBeforeTheKill++;
      rmSync(out);
      onDisk = undefined;
      continue;
    }
    tally.kills++;
    tally.byPlan[plan.kind]++;
    killed.add(o.pid);
    const left = temps(dir);
    expect(left.length, `${context}: temporary files ${left.map((t) => t.name).join(", ")}`).toBeLessThanOrEqual(1);
    for (const t of left) expect(killed.has(t.pid), `${context}: ${t.name} is not of a killed process`).toBe(true);
    if (o.checkpoints.length > 0) {
      // this process wrote: it removed any older one, so a temporary file left is its own
      for (const t of left) expect(t.pid, `${context}: ${t.name} outlived a later write`).toBe(o.pid);
    }
    if (left.some((t) => t.pid === o.pid)) tally.midWrite++;
    if (resuming && o.steps.length === 0) tally.duringResumeStartup++;
    if (!existsSync(out)) {
      expect(onDisk, `${context}: the checkpoint disappeared`).toBeUndefined();
      expect(o.checkpoints, `${context}: reported checkpoints, but there is no file`).toEqual([]);
      tally.beforeFirstCheckpoint++;
      continue;
    }
    const s = expectReferenceState(out, ref, context).step;
    // nothing reported written is lost, nothing not yet trained is there, and the file never goes back
    expect(s, `${context}: the file holds step ${s}; the process had reported step ${o.checkpoints.at(-1)} written`).toBeGreaterThanOrEqual(o.checkpoints.at(-1) ?? from);
    expect(s, `${context}: the file holds step ${s}; the process had reported step ${o.steps.at(-1)} trained`).toBeLessThanOrEqual(o.steps.at(-1) ?? from);
    expect(s, `${context}: the file went back from step ${from}`).toBeGreaterThanOrEqual(from);
    onDisk = s;
  }
  const last = await bptt(onDisk === undefined ? fresh : resume);
  expectFinal(last, `${model.name}, the resume after the last kill (from step ${onDisk ?? "none: a new run"})`);
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${model.name}, ${tmpfsKiB === undefined ? `in ${tmpdir()}` : `on a tmpfs of ${tmpfsKiB} KiB`}: a checkpoint write takes ${writes[0]?.toFixed(1)} ms` +
      `${tmpfsKiB === undefined ? "" : ` (${writes[1]?.toFixed(1)} ms in ${tmpdir()})`}; ` +
      `uninterrupted run ${(clean.ms / 1000).toFixed(2)} s (start-up to the first step ${startupMs.toFixed(0)} ms, ~${stepMs.toFixed(1)} ms a step with its checkpoint); ` +
      `${tally.kills} kills in ${seconds.toFixed(1)} s (${tally.byPlan.time} at a random time, ${tally.byPlan.step} in the cycle after a random step, ${tally.byPlan.write} into its write): ` +
      `${tally.midWrite} mid-write (a temporary file left), ${tally.beforeFirstCheckpoint} before the first checkpoint, ` +
      `${tally.duringResumeStartup} while a resume started up; runs that ended before their kill: ${tally.finishedBeforeTheKill}`,
  );
  return tally;
}

/** @returns the median milliseconds of three atomic writes of `ckpt` in `dir` (the file is removed after) */
function writeMs(ckpt: Checkpoint, dir: string): number {
  const path = join(dir, "write-time.safetensors");
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    saveCheckpoint(path, ckpt);
    ms.push(performance.now() - t0);
  }
  rmSync(path);
  return ms.sort((a, b) => a - b)[1] ?? NaN;
}

describe.skipIf(!built)("SIGKILL at random moments loses only the steps since the last checkpoint", () => {
  const refs = new Map<Model, State[]>();
  beforeAll(async () => {
    for (const model of [SMALL, LARGE]) refs.set(model, await reference(data, model.options));
  });

  for (const model of [SMALL, LARGE]) {
    it(model.name, async () => {
      const ref = refs.get(model) ?? [];
      expect(ref.length).toBe((model.options.steps ?? 0) + 1); // one checkpoint a step, and the final one
      const rng = new Rng(SEED + (model === SMALL ? 0 : 1));
      const final = ref.at(-1)?.bytes ?? 0;
      let tally: Tally | undefined;
      if (model.tmpfsCheckpoints !== undefined && noTmpfs === undefined) {
        const kib = tmpfsKib(final, model.tmpfsCheckpoints);
        const r = await withTmpfs("kills-tmpfs", kib, (dir) => killLoop(model, ref, rng, dir, kib));
        if ("value" in r) tally = r.value;
        else console.warn(`the larger model's kills run in ${tmpdir()}: ${r.problem}`);
      }
      tally ??= await killLoop(model, ref, rng, mkdtempSync(join(work, "kills-")), undefined);
      // where the kills landed depends on the timing (reported above); that they landed is the test's own doing
      expect(tally.kills, "too few kills in the time given").toBeGreaterThanOrEqual(4);
    });
  }
});

describe.skipIf(!built || noTmpfs !== undefined)("a full disk (a real tmpfs)", () => {
  const options: Flags = { ...SMALL.options, steps: 10 };
  let ref: State[] = [];
  let bytes = 0;
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const noStack = /\n\s+at |Error:/;
  /** The message: the stderr from "bptt train: cannot write" on (the progress lines come before it). */
  const message = (stderr: string): string => stderr.slice(Math.max(stderr.indexOf("bptt train: cannot write"), 0));
  beforeAll(async () => {
    ref = await reference(data, options);
    bytes = ref[0]?.bytes ?? 0;
  });

  it("a periodic save that does not fit stops the run: one paragraph, the file on disk intact, the printed command resumes once there is room", async () => {
    const r = await withTmpfs("full", tmpfsKib(bytes, 1.5), async (dir) => {
      // room for one checkpoint, not for the temporary file of the next beside it
      const out = join(dir, "m.safetensors");
      const run = await bptt(["train", "--data", data, ...cliFlags(options), "--out", out]);
      expect(run.code, run.stderr).toBe(1);
      const text = message(run.stderr);
      const command = new RegExp(
        `^bptt train: cannot write ${escape(out)} at step 2 \\(the periodic checkpoint, --checkpoint-every 1\\): the disk is full \\(ENOSPC\\)\\. ` +
          `Training stopped there, since no later checkpoint could be written either\\. ${escape(out)} is untouched and holds step 1\\. ` +
          `Free some space, then resume with: bptt (train --resume ${escape(out)} --data ${escape(data)} [^(]*)\\(add --out FILE to continue on another disk\\)\\n$`,
      ).exec(text);
      expect(command, text).not.toBeNull();
      expect(run.stderr).not.toMatch(noStack);
      expect(run.checkpoints).toEqual([1]);
      expect(expectReferenceState(out, ref, "after the full disk").step).toBe(1);
      expect(temps(dir)).toEqual([]);
      expect(usedBytes(dir), "the failed write's space is not all given back").toBe(pages(bytes));
      // room for the file and a write: the command of the message ends the run where the reference does
      expect(mountTmpfs(dir, tmpfsKib(bytes, 2), true)).toBeUndefined();
      const resumed = await bptt((command?.[1] ?? "").trim().split(" "));
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.steps[0]).toBe(2);
      expect(expectReferenceState(out, ref, "resumed").file).toBe(ref.at(-1)?.file);
      expect(temps(dir)).toEqual([]);
      console.log(`disk full (tmpfs of ${tmpfsKib(bytes, 1.5)} KiB, checkpoints of ${bytes} bytes):\n${text}`);
    });
    expect("value" in r, "problem" in r ? r.problem : "").toBe(true);
  });

  it("a final save that does not fit: from a periodic checkpoint the message resumes; with none, nothing is left", async () => {
    const r = await withTmpfs("final", tmpfsKib(bytes, 1.5), async (dir) => {
      const out = join(dir, "m.safetensors");
      // the checkpoint of step 10 fits; the final one of step 10 (with its validation) does not
      const everyTen: Flags = { ...options, checkpointEvery: 10 };
      const ref = await reference(data, everyTen); // the file records its cadence: its own reference
      const run = await bptt(["train", "--data", data, ...cliFlags(everyTen), "--out", out]);
      expect(run.code, run.stderr).toBe(1);
      const text = message(run.stderr);
      expect(text).toMatch(
        new RegExp(`^bptt train: cannot write ${escape(out)} at step 10 \\(the final checkpoint\\): the disk is full \\(ENOSPC\\)\\. ${escape(out)} is untouched and holds step 10\\. Free some space, then resume with: bptt train --resume ${escape(out)} --data ${escape(data)} \\(add --out FILE to continue on another disk\\)\\n$`),
      );
      expect(run.stderr).not.toMatch(noStack);
      expect(expectReferenceState(out, ref, "after the failed final save").file).not.toBe(ref.at(-1)?.file);
      expect(temps(dir)).toEqual([]);
      rmSync(out);
      expect(mountTmpfs(dir, tmpfsKib(bytes, 0.5), true)).toBeUndefined();
      const none = await bptt(["train", "--data", data, ...cliFlags({ ...options, checkpointEvery: 0, steps: 3 }), "--out", out]);
      expect(none.code, none.stderr).toBe(1);
      expect(message(none.stderr)).toMatch(
        new RegExp(`^bptt train: cannot write ${escape(out)} at step 3 \\(the final checkpoint\\): the disk is full \\(ENOSPC\\)\\. ${escape(out)} was not created\\. Free some space, then start the run again: nothing of it was saved\\n$`),
      );
      expect(readdirSync(dir)).toEqual([]);
      expect(usedBytes(dir)).toBe(0);
    });
    expect("value" in r, "problem" in r ? r.problem : "").toBe(true);
  });

  it("a read-only file system is refused before any training: exit 2 at once, one line naming the path and the reason", async () => {
    const r = await withTmpfs("readonly", 64, async (dir) => {
      const remount = spawnSync("mount", ["-o", "remount,ro", dir], { encoding: "utf8" });
      expect(remount.status, remount.stderr).toBe(0);
      const out = join(dir, "runs", "m.safetensors"); // a parent to create, on a file system that refuses it
      const run = await bptt(["train", "--data", data, ...cliFlags(options), "--out", out]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.steps).toEqual([]);
      expect(run.stderr).toMatch(new RegExp(`^bptt train: [^\n]*${escape(join(dir, "runs"))}[^\n]*read-only \\(EROFS\\)[^\n]*\\n$`));
      expect(run.ms, "refused at once, not after the work").toBeLessThan(1000);
      console.log(`read-only file system: refused in ${run.ms.toFixed(0)} ms:\n${run.stderr}`);
    });
    expect("value" in r, "problem" in r ? r.problem : "").toBe(true);
  });

  it("a temporary file that a killed write left is removed before the next write needs its space", async () => {
    const r = await withTmpfs("stale", tmpfsKib(bytes, 2.5), async (dir) => {
      const out = join(dir, "m.safetensors");
      const first = await bptt(["train", "--data", data, ...cliFlags({ ...options, steps: 1 }), "--out", out]);
      expect(first.code, first.stderr).toBe(0);
      // what a SIGKILL in the middle of a write leaves: a whole checkpoint's worth under a dead process's id
      const dead = spawnSync(process.execPath, ["-e", ""]).pid ?? 0;
      expect(() => process.kill(dead, 0)).toThrowError(expect.objectContaining({ code: "ESRCH" }));
      const stale = `.m.safetensors.${dead}.0123456789ab.tmp`;
      copyFileSync(out, join(dir, stale));
      expect(usedBytes(dir)).toBe(2 * pages(bytes)); // a third checkpoint (the next write) would not fit beside them
      const resumed = await bptt(["train", "--resume", out, "--data", data, ...cliFlags(options, ["steps"])]); // the first run's budget was 1 step
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(expectReferenceState(out, ref, "resumed beside a stale temporary file").file).toBe(ref.at(-1)?.file);
      expect(readdirSync(dir)).toEqual(["m.safetensors"]);
    });
    expect("value" in r, "problem" in r ? r.problem : "").toBe(true);
  });
});
