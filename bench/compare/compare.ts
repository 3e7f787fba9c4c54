/**
 * `npm run compare` (in bench/compare): the same training step — a simple tanh RNN language model,
 * V = 65, one layer, forward + full BPTT + an update — at the shapes S, M, L of DESIGN §4, in bptt
 * (one thread, and all cores), TensorFlow.js (cpu and wasm backends) and brain.js (batch 1 only),
 * in one run, with tokens/s and the ratios bptt / each.
 *
 *   npm ci && npm run compare                  all shapes (a few minutes)
 *   npm run compare -- --shape S,M --quick     fewer shapes, shorter measurements
 *   npm run compare -- --budget 30             give up on a case after 30 s (default 60)
 *
 * Each (library, shape) runs in its own child process (a fresh heap, one TF.js backend), timed as
 * `npm run bench` times bptt: the median step after warm-up, tokens/s = tokens per step / median.
 * A case whose first steps do not finish within the budget (counted after its set-up) is killed and
 * shown as "> N s/step".
 *
 * What each library runs (the same model, each written the way that library is meant to be used):
 * - bptt: the engine the trainer uses (createTrainingEngine) and Adam, parameters in kernel memory.
 * - TensorFlow.js: variables W_i, W_h, b_h, W_o, b_o; one-hot inputs times W_i for all steps, the
 *   T steps unrolled with tf ops, one logits matMul over all T·B rows, softmaxCrossEntropy, and
 *   tf.train.adam's minimize (autodiff through the whole chunk = full BPTT). Hidden state from zero.
 * - brain.js 1.6 (the release on the registry; 2.x betas need a native GPU module): recurrent.RNN
 *   with tanh in place of its default relu, trainPattern on one sequence (its RMSProp update). It
 *   has no batches, so every shape runs at batch 1 with that shape's H and T (tokens/step = T).
 */
import { spawn } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
// Types from the main package's build; the module itself is loaded at run time relative to the
// compiled file (dist/compare.js → ../../../dist/index.js), since source and output sit at different depths.
import type * as Bptt from "../../dist/index.js";
import type * as TF from "@tensorflow/tfjs";

interface Shape {
  readonly name: string;
  readonly H: number;
  readonly T: number;
  readonly B: number;
}

const V = 65;
const SHAPES: readonly Shape[] = [
  { name: "S", H: 100, T: 25, B: 1 },
  { name: "M", H: 256, T: 50, B: 32 },
  { name: "L", H: 1024, T: 50, B: 64 },
];

/** The libraries, in the order of the table. */
const LIBRARIES = ["bptt", "bptt-1", "tfjs-cpu", "tfjs-wasm", "brain"] as const;
type Library = (typeof LIBRARIES)[number];
const LABEL: Readonly<Record<Library, string>> = {
  "bptt": "bptt", "bptt-1": "bptt 1 thread", "tfjs-cpu": "TF.js cpu", "tfjs-wasm": "TF.js wasm", "brain": "brain.js (B=1)",
};

/** One training step of some library, already set up; returns when the update is done. */
type Step = () => void;

/** What a child process measures: a step function and the tokens it processes. */
interface Subject {
  readonly step: Step;
  readonly tokensPerStep: number;
  /** Shown next to the number, e.g. "2 threads". */
  readonly note: string;
}

// ------------------------------------------------------------------------------------------------
// The subjects (run inside a child process)

async function bpttSubject(s: Shape, threads: number | undefined): Promise<Subject> {
  const url = new URL("../../../dist/index.js", import.meta.url);
  const bptt = (await import(url.href)) as typeof Bptt;
  const config: Bptt.ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: s.H, vocabSize: V, bias: true };
  const engine = await bptt.createTrainingEngine(config, s.T, s.B, threads === undefined ? {} : { threads });
  const used = engine instanceof bptt.ThreadedLmEngine ? engine.threads : 1;
  const k = bptt.defaultKernels();
  const P = bptt.paramCount(config);
  const params = k.allocate(P), grads = k.allocate(P);
  const rng = new bptt.Rng(42);
  bptt.initParams(params, config, rng);
  const optimizer = new bptt.Optimizer({ name: "adam", lr: 2e-3 }, P, k); // Adam as a WebAssembly kernel, in place
  const batch = { ...randomIds(s.T * s.B, 1), T: s.T, B: s.B };
  const h = new Float32Array(s.B * s.H);
  return {
    tokensPerStep: s.T * s.B,
    note: `${used} thread${used > 1 ? "s" : ""}`,
    step: () => {
      engine.lossAndGrads(params, grads, batch, h, 1 / (s.T * s.B));
      optimizer.step(params, grads);
      engine.finalState(h);
    },
  };
}

async function tfjsSubject(s: Shape, backend: "cpu" | "wasm"): Promise<Subject> {
  const tf = await import("@tensorflow/tfjs");
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // the .wasm files ship inside the package; nothing is downloaded
    wasm.setWasmPaths(fileURLToPath(new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url)));
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not initialise`);
  await tf.ready();
  const { H, T, B } = s;
  const scale = 1 / Math.sqrt(H);
  const Wi = tf.variable(tf.randomUniform([V, H], -scale, scale)); // W_iᵀ
  const Wh = tf.variable(tf.randomUniform([H, H], -scale, scale)); // W_hᵀ
  const bh = tf.variable(tf.zeros([H]));
  const Wo = tf.variable(tf.randomUniform([H, V], -scale, scale)); // W_oᵀ
  const bo = tf.variable(tf.zeros([V]));
  const optimizer = tf.train.adam(2e-3);
  const { inputs, targets } = randomIds(T * B, 1);
  // one-hot inputs times W_iᵀ (a gather would be cheaper, but its gradient has no wasm kernel)
  const x = tf.oneHot(tf.tensor1d(inputs, "int32"), V).asType("float32");
  const labels = tf.oneHot(tf.tensor1d(targets, "int32"), V);
  const loss = (): TF.Scalar => {
    const xs = tf.unstack(tf.reshape(tf.matMul(x, Wi), [T, B, H])); // T × (B, H): W_i x_t for all steps
    let h: TF.Tensor = tf.zeros([B, H]);
    const hs: TF.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      h = tf.tanh(tf.add(tf.add(xs[t], tf.matMul(h, Wh)), bh));
      hs.push(h);
    }
    const logits = tf.add(tf.matMul(tf.concat(hs, 0), Wo), bo);
    return tf.losses.softmaxCrossEntropy(labels, logits);
  };
  return {
    tokensPerStep: T * B,
    note: backend === "wasm" ? `${tf.getBackend()}` : "cpu",
    step: () => {
      tf.tidy(() => {
        optimizer.minimize(loss, false, [Wi, Wh, bh, Wo, bo]);
      });
      bo.dataSync(); // the update has happened
    },
  };
}

/** The parts of brain.js 1.6's recurrent.RNN used here (its typings declare only train and run). */
interface BrainEquation {
  add(a: unknown, b: unknown): unknown;
  multiply(a: unknown, b: unknown): unknown;
  tanh(a: unknown): unknown;
}
interface BrainLayer {
  readonly weight: unknown;
  readonly transition: unknown;
  readonly bias: unknown;
}
interface BrainRnn {
  getEquation(equation: BrainEquation, input: unknown, previous: unknown, layer: BrainLayer): unknown;
  initialize(): void;
  trainPattern(input: number[]): void;
}

async function brainSubject(s: Shape): Promise<Subject> {
  const brain = (await import("brain.js")).default;
  const net = new brain.recurrent.RNN({ inputSize: V, inputRange: V, outputSize: V, hiddenLayers: [s.H], learningRate: 2e-3 } as object) as unknown as BrainRnn;
  // f1 = tanh like the others (brain.js' RNN uses relu by default)
  net.getEquation = (eq, input, previous, layer) =>
    eq.tanh(eq.add(eq.add(eq.multiply(layer.weight, input), eq.multiply(layer.transition, previous)), layer.bias));
  net.initialize();
  // brain.js predicts a start token, the sequence and an end token: T − 1 symbols give T steps
  const seq = Array.from(randomIds(s.T - 1, 1).inputs);
  return { tokensPerStep: s.T, note: "B=1", step: () => net.trainPattern(seq) };
}

function randomIds(n: number, seed: number): { inputs: Int32Array; targets: Int32Array } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % V;
  };
  const inputs = new Int32Array(n), targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    inputs[i] = next();
    targets[i] = next();
  }
  return { inputs, targets };
}

/** Child: set up one subject, then report every step's time on stdout as JSON lines. */
async function child(library: Library, shape: Shape, quick: boolean): Promise<void> {
  const subject =
    library === "bptt" ? await bpttSubject(shape, undefined)
    : library === "bptt-1" ? await bpttSubject(shape, 1)
    : library === "tfjs-cpu" ? await tfjsSubject(shape, "cpu")
    : library === "tfjs-wasm" ? await tfjsSubject(shape, "wasm")
    : await brainSubject(shape);
  const report = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  report({ tokensPerStep: subject.tokensPerStep, note: subject.note });
  const time = (): number => {
    const t0 = performance.now();
    subject.step();
    return performance.now() - t0;
  };
  // warm-up: ≥ 2 steps and 1 s (quick: 1 step, 0.3 s); then ≥ 3 steps and 5 s (quick: 1 step, 1.5 s)
  const [warmMs, warmSteps, measureMs, measureSteps] = quick ? [300, 1, 1500, 1] : [1000, 2, 5000, 3];
  for (let i = 0, spent = 0; i < warmSteps || spent < warmMs; i++) {
    const ms = time();
    spent += ms;
    report({ phase: "warm", ms });
  }
  for (let i = 0, spent = 0; i < measureSteps || spent < measureMs; i++) {
    const ms = time();
    spent += ms;
    report({ phase: "measure", ms });
  }
  report({ done: true });
  process.exit(0); // TF.js' wasm backend may keep threads alive
}

// ------------------------------------------------------------------------------------------------
// The parent: one child per (library, shape), under a time budget

interface Measured {
  readonly library: Library;
  readonly shape: string;
  /** tokens/s, or undefined when the budget ran out before a step finished (or the child failed). */
  readonly tokensPerSec: number | undefined;
  readonly msPerStep: number | undefined;
  readonly note: string;
}

/** Seconds a child may take to set up (import its library, build the model) before its budget starts. */
const SETUP_CAP_SEC = 120;

function measure(library: Library, shape: Shape, quick: boolean, budgetSec: number): Promise<Measured> {
  const script = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, [script, "--child", library, shape.name, ...(quick ? ["--quick"] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "", err = "";
  let timedOut = false;
  const kill = (): void => {
    timedOut = true;
    proc.kill("SIGKILL");
  };
  // the budget counts from the end of the set-up (the child's first line); the set-up gets its own cap
  let timer = setTimeout(kill, SETUP_CAP_SEC * 1000);
  let started = false;
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (!started && out.includes("tokensPerStep")) {
      started = true;
      clearTimeout(timer);
      timer = setTimeout(kill, budgetSec * 1000);
    }
  });
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => {
    proc.on("exit", (code) => {
      clearTimeout(timer);
      // only JSON lines: TF.js prints advice on stdout
      const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      const head = lines.find((l) => typeof l["tokensPerStep"] === "number");
      const times = (phase: string): number[] => lines.filter((l) => l["phase"] === phase).map((l) => Number(l["ms"]));
      // measured steps; a child stopped by the budget counts what it finished, warm-up included (slow cases)
      let ms = times("measure");
      if (ms.length === 0 && timedOut) ms = times("warm");
      const failed = !timedOut && code !== 0;
      const tokens = Number(head?.["tokensPerStep"] ?? NaN);
      const msPerStep = ms.length === 0 || failed ? undefined : median(ms);
      const note = failed ? `failed: ${lastLine(err)}` : String(head?.["note"] ?? "");
      resolve({
        library, shape: shape.name, msPerStep, note,
        tokensPerSec: msPerStep === undefined ? undefined : tokens / (msPerStep / 1000),
      });
    });
  });
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 === 1 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/** The error's message in a child's stderr. */
function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  return lines.find((l) => /^\w*Error\b/.test(l)) ?? lines[lines.length - 1] ?? "no message";
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function parent(argv: readonly string[]): Promise<void> {
  let shapes = [...SHAPES];
  let quick = false;
  let budget = 60;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    if (a === "--quick") quick = true;
    else if (a === "--shape") {
      const names = (argv[++i] ?? "").toUpperCase().split(",");
      shapes = SHAPES.filter((s) => names.includes(s.name));
      if (shapes.length !== names.length) throw new Error(`--shape: expected S, M or L; received ${argv[i]}`);
    } else if (a === "--budget") {
      budget = Number(argv[++i]);
      if (!(budget > 0)) throw new Error(`--budget: expected seconds > 0; received ${argv[i]}`);
    } else throw new Error(`unknown argument ${a}; usage: npm run compare -- [--shape S,M,L] [--quick] [--budget SECONDS]`);
  }
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpu}, ${os.availableParallelism()} cores, Node ${process.version}`;
  console.log(`bptt vs TensorFlow.js and brain.js — ${date}, ${machine}${quick ? " (quick)" : ""}`);
  console.log(`training step: forward + full BPTT + update, V=${V}, tanh, 1 layer; tokens/s (median step after warm-up); budget ${budget} s per case\n`);

  const results: Measured[] = [];
  for (const s of shapes) {
    for (const library of LIBRARIES) {
      const r = await measure(library, s, quick, budget);
      results.push(r);
      const value = r.tokensPerSec === undefined ? (r.note.startsWith("failed") ? r.note : `> ${budget} s/step`) : `${fmt(r.tokensPerSec)} tokens/s`;
      console.log(`  ${s.name} ${LABEL[library].padEnd(15)} ${value}${r.tokensPerSec !== undefined && r.note !== "" ? ` (${r.note})` : ""}`);
    }
  }

  const cell = (r: Measured | undefined): string =>
    r === undefined ? "" : r.tokensPerSec !== undefined ? fmt(r.tokensPerSec) : r.note.startsWith("failed") ? "failed" : `> ${budget} s/step`;
  const ratio = (a: Measured | undefined, b: Measured | undefined): string => {
    if (a?.tokensPerSec === undefined || b === undefined) return "";
    if (b.tokensPerSec === undefined) return b.note.startsWith("failed") ? "" : `> ${fmt((a.tokensPerSec * budget) / tokensOf(b), 0)}×`;
    return `${fmt(a.tokensPerSec / b.tokensPerSec, a.tokensPerSec / b.tokensPerSec >= 100 ? 0 : 1)}×`;
  };
  const tokensOf = (r: Measured): number => {
    const s = SHAPES.find((x) => x.name === r.shape);
    if (s === undefined) return NaN;
    return r.library === "brain" ? s.T : s.T * s.B;
  };
  const header = ["shape", ...LIBRARIES.map((l) => LABEL[l]), "bptt / TF.js cpu", "bptt / TF.js wasm", "bptt / brain.js"];
  const rows = shapes.map((s) => {
    const get = (l: Library): Measured | undefined => results.find((r) => r.shape === s.name && r.library === l);
    const bptt = get("bptt");
    return [
      `${s.name} (H${s.H} T${s.T} B${s.B})`, ...LIBRARIES.map((l) => cell(get(l))),
      ratio(bptt, get("tfjs-cpu")), ratio(bptt, get("tfjs-wasm")), ratio(bptt, get("brain")),
    ];
  });
  const threadsNote = results.filter((r) => r.library === "bptt").map((r) => `${r.shape}: ${r.note}`).join(", ");
  console.log(`\n| ${header.join(" | ")} |`);
  console.log(`|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log(
    `\ntokens/s; bptt uses the threads training would (${threadsNote}); brain.js runs batch 1 at each shape's H and T. ` +
      `"> ${budget} s/step": no step finished within the budget (the ratio is then a lower bound). ${date}, ${machine}.`,
  );
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  const library = LIBRARIES.find((l) => l === argv[1]);
  const shape = SHAPES.find((s) => s.name === argv[2]);
  if (library === undefined || shape === undefined) throw new Error(`bad child arguments ${argv.join(" ")}`);
  await child(library, shape, argv.includes("--quick"));
} else {
  await parent(argv);
}
