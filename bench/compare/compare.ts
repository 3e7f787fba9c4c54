/**
 * `npm run compare` (in bench/compare): the same training step — a language model with one
 * recurrent layer, V = 65, forward + full BPTT + an update — in bptt (one thread, and all cores),
 * TensorFlow.js (cpu and wasm backends), brain.js (batch 1 only) and PyTorch (best of 1 and 2
 * threads), in one run, with tokens/s and the ratios bptt / each. The cells: the simple tanh RNN at
 * the shapes S, M, L of docs/architecture.md (Measuring speed), the LSTM and the GRU at M and L.
 *
 *   npm ci && npm run compare                  every cell at its shapes (10–15 minutes)
 *   npm run compare -- --shape S,M --quick     fewer shapes, shorter measurements
 *   npm run compare -- --cell lstm,gru         those cells only (at M and L); both flags: exactly those
 *   npm run compare -- --library bptt,torch    some of bptt, bptt-1, tfjs-cpu, tfjs-wasm, brain, torch
 *   npm run compare -- --tfjs-layers           TF.js' LSTM and GRU as tf.layers.lstm / tf.layers.gru
 *   npm run compare -- --budget 30             give up on a case after 30 s (default 60)
 *   npm run compare -- --python PATH           the Python that has torch (default /usr/bin/python3)
 *
 * Each (library, cell, shape) runs in its own child process (a fresh heap, one TF.js backend), timed as
 * `npm run bench` times bptt: the median step after warm-up, tokens/s = tokens per step / median.
 * A case whose first steps do not finish within the budget (counted after its set-up) is killed and
 * shown as "> N s/step". PyTorch's child is torch_step.py, which times its step by the same rule
 * (passed to it) and answers in the same JSON lines; it runs three times per case — 1 thread,
 * 2 threads, 2 threads with OMP_WAIT_POLICY=PASSIVE — each with its own budget, and the table shows
 * the fastest (all three are listed under the table).
 *
 * What each library runs (the same model, each written the way that library is meant to be used):
 * - bptt: the engine the trainer uses (createTrainingEngine) and Adam, parameters in kernel memory,
 *   the state (h, and c for the LSTM) carried from step to step; the kernels the bptt command loads
 *   (the FMA build where relaxed SIMD is on, which enableWasmFma turns on in Node 20 as bin/bptt.js
 *   does; BPTT_WASM_FMA=0 measures the plain build), named in the note.
 * - TensorFlow.js: variables W_ih, W_hh, the biases, W_o, b_o; one-hot inputs times W_ih for all
 *   steps, the T steps unrolled with tf ops (the cell's equations in PyTorch's form: tf.split into
 *   the gates, σ, tanh), one logits matMul over all T·B rows, softmaxCrossEntropy, and
 *   tf.train.adam's minimize (autodiff through the whole chunk = full BPTT). State from zero.
 *   With --tfjs-layers, the LSTM and the GRU are tf.layers.lstm / tf.layers.gru (σ gates, not
 *   Keras' hard σ; the GRU applies r before W_hn, the only form tfjs-layers has) over (B, T, V)
 *   one-hot input and tf.layers.dense, trained by the same minimize.
 * - brain.js 1.6 (the release on the registry; 2.x betas need a native GPU module): recurrent.RNN
 *   with tanh in place of its default relu, recurrent.LSTM and recurrent.GRU with their own
 *   equations (its GRU too applies r before the matrix), trainPattern on one sequence (its RMSProp
 *   update). It has no batches, so every shape runs at batch 1 with that shape's H and T (tokens/step = T).
 * - PyTorch (torch_step.py under /usr/bin/python3: Debian's python3-torch 1.13, float32 on the CPU):
 *   nn.RNN (tanh) / nn.LSTM / nn.GRU with PyTorch's default biases and initialisation over (T, B, V)
 *   one-hot input (F.one_hot in the step; nn.RNN takes vectors, so W_ih x_t is a product, as in
 *   TF.js), nn.Linear to V, F.cross_entropy's mean over T·B, loss.backward() through the chunk,
 *   torch.optim.Adam; the state carried from step to step, detached. torch.set_num_threads(k) and
 *   the BLAS's threads (OpenBLAS's API) for k = 1 and 2, and k = 2 with idle OpenMP threads
 *   sleeping (OMP_WAIT_POLICY=PASSIVE) instead of spinning against OpenBLAS's. Debian's torch calls the system BLAS
 *   (libblas.so.3): install libopenblas0-pthread, since the reference BLAS is ~30× slower; the header
 *   names the BLAS torch's sgemm_ resolves to (OpenBLAS's version, threading and kernel) and warns
 *   when it is the reference one. Without torch for that Python the column says so; the run goes on.
 */
import { spawn, spawnSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
// Types from the main package's build; the module itself is loaded at run time relative to the
// compiled file (dist/compare.js → ../../../dist/index.js), since source and output sit at different depths.
import type * as Bptt from "../../dist/index.js";
import type * as FmaFlag from "../../dist/kernels/fma-flag.js";
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

/** The recurrent cells, in the order of the table, and the shapes each runs at by default. */
const CELLS = ["rnn", "lstm", "gru"] as const;
type Cell = (typeof CELLS)[number];
const CELL_SHAPES: Readonly<Record<Cell, readonly string[]>> = { rnn: ["S", "M", "L"], lstm: ["M", "L"], gru: ["M", "L"] };
const CELL_TITLE: Readonly<Record<Cell, string>> = { rnn: "RNN", lstm: "LSTM", gru: "GRU" };

/** The libraries, in the order of the table. */
const LIBRARIES = ["bptt", "bptt-1", "tfjs-cpu", "tfjs-wasm", "brain", "torch"] as const;
type Library = (typeof LIBRARIES)[number];
/** The libraries that run as a Node child of this script (PyTorch runs as a Python child). */
type NodeLibrary = Exclude<Library, "torch">;
const LABEL: Readonly<Record<Library, string>> = {
  "bptt": "bptt", "bptt-1": "bptt 1 thread", "tfjs-cpu": "TF.js cpu", "tfjs-wasm": "TF.js wasm", "brain": "brain.js (B=1)",
  "torch": "PyTorch (best of 1, 2 threads)",
};
/**
 * PyTorch's settings, each a child of its own; its column is the best of them. `threads`: torch.set_num_threads
 * and the BLAS's threads. `passive`: OMP_WAIT_POLICY=PASSIVE, so torch's idle OpenMP worker sleeps instead of
 * spinning while OpenBLAS's own threads run a product (with another process on both cores it cost 28–49× at M; torch_step.py).
 */
interface TorchSetting {
  readonly threads: number;
  readonly passive: boolean;
}
const TORCH_SETTINGS: readonly TorchSetting[] = [{ threads: 1, passive: false }, { threads: 2, passive: false }, { threads: 2, passive: true }];
const settingName = (s: TorchSetting): string => `${s.threads} thread${s.threads > 1 ? "s" : ""}${s.passive ? " passive" : ""}`;
/** Debian's python3-torch lives under the system Python (a pyenv or venv python3 on PATH usually has no torch). */
const DEFAULT_PYTHON = "/usr/bin/python3";

/** How long each child warms up and measures: at least `warmSteps` steps and `warmMs`, then at least `measureSteps` and `measureMs`. */
interface Timing {
  readonly warmMs: number;
  readonly warmSteps: number;
  readonly measureMs: number;
  readonly measureSteps: number;
}
const TIMING: Readonly<Record<"full" | "quick", Timing>> = {
  full: { warmMs: 1000, warmSteps: 2, measureMs: 5000, measureSteps: 3 },
  quick: { warmMs: 300, warmSteps: 1, measureMs: 1500, measureSteps: 1 },
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

async function bpttSubject(cell: Cell, s: Shape, threads: number | undefined): Promise<Subject> {
  const flag = (await import(new URL("../../../dist/kernels/fma-flag.js", import.meta.url).href)) as typeof FmaFlag;
  flag.enableWasmFma(); // before bptt compiles its kernels
  const bptt = (await import(new URL("../../../dist/index.js", import.meta.url).href)) as typeof Bptt;
  const config: Bptt.ModelConfig = { cell, nonlinearity: "tanh", layers: 1, hiddenSize: s.H, vocabSize: V, bias: true };
  const engine = await bptt.createTrainingEngine(config, s.T, s.B, threads === undefined ? {} : { threads });
  const used = engine instanceof bptt.ThreadedLmEngine ? engine.threads : 1;
  const k = bptt.defaultKernels();
  const P = bptt.paramCount(config);
  const params = k.allocate(P), grads = k.allocate(P);
  const rng = new bptt.Rng(42);
  bptt.initParams(params, config, rng);
  const optimizer = new bptt.Optimizer({ name: "adam", lr: 2e-3 }, P, k); // Adam as a WebAssembly kernel, in place
  const batch = { ...randomIds(s.T * s.B, 1), T: s.T, B: s.B };
  const state = new Float32Array(bptt.stateLength(config, s.B)); // h, and c for the LSTM
  return {
    tokensPerStep: s.T * s.B,
    note: `${used} thread${used > 1 ? "s" : ""}, ${"build" in k ? `${k.name}-${String(k.build)}` : k.name}`, // wasm-fma, as npm run bench names it
    step: () => {
      engine.lossAndGrads(params, grads, batch, state, 1 / (s.T * s.B));
      optimizer.step(params, grads);
      engine.finalState(state);
    },
  };
}

/** How TF.js writes the gated cells: its ops, unrolled by hand like the RNN (default), or tf.layers.lstm / tf.layers.gru. */
type TfjsStyle = "ops" | "layers";

async function tfjsSubject(cell: Cell, s: Shape, backend: "cpu" | "wasm", style: TfjsStyle): Promise<Subject> {
  const tf = await import("@tensorflow/tfjs");
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // the .wasm files ship inside the package; nothing is downloaded
    wasm.setWasmPaths(fileURLToPath(new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url)));
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not initialise`);
  await tf.ready();
  const { H, T, B } = s;
  const { inputs, targets } = randomIds(T * B, 1);
  const optimizer = tf.train.adam(2e-3);
  const note = backend === "wasm" ? `${tf.getBackend()}` : "cpu";
  if (cell !== "rnn" && style === "layers") {
    // Keras style: tf.layers.lstm / tf.layers.gru over (B, T, V) one-hot, a dense layer on every step's h
    const rnn = cell === "lstm"
      ? tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "glorotUniform", inputShape: [T, V] })
      : tf.layers.gru({ units: H, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "glorotUniform", inputShape: [T, V] });
    const model = tf.sequential({ layers: [rnn, tf.layers.dense({ units: V })] });
    const x = tf.oneHot(tf.tensor2d(inputs, [B, T], "int32"), V).asType("float32");
    const labels = tf.oneHot(tf.tensor1d(targets, "int32"), V);
    const loss = (): TF.Scalar => tf.losses.softmaxCrossEntropy(labels, tf.reshape(model.apply(x) as TF.Tensor, [T * B, V]));
    const last = model.trainableWeights[model.trainableWeights.length - 1];
    if (last === undefined) throw new Error("the TF.js model has no weights");
    return {
      tokensPerStep: T * B, note,
      step: () => {
        tf.tidy(() => {
          optimizer.minimize(loss, false);
        });
        last.read().dataSync(); // the update has happened
      },
    };
  }
  const G = cell === "lstm" ? 4 : cell === "gru" ? 3 : 1;
  const scale = 1 / Math.sqrt(H);
  const Wi = tf.variable(tf.randomUniform([V, G * H], -scale, scale)); // W_ihᵀ
  const Wh = tf.variable(tf.randomUniform([H, G * H], -scale, scale)); // W_hhᵀ
  const bih = tf.variable(tf.zeros([G * H]));
  const bhh = tf.variable(tf.zeros([G * H])); // the GRU's b_hh (inside r ⊙ (W_hn h + b_hn)); unused by the RNN and LSTM
  const Wo = tf.variable(tf.randomUniform([H, V], -scale, scale)); // W_oᵀ
  const bo = tf.variable(tf.zeros([V]));
  const vars = cell === "gru" ? [Wi, Wh, bih, bhh, Wo, bo] : [Wi, Wh, bih, Wo, bo];
  // one-hot inputs times W_iᵀ (a gather would be cheaper, but its gradient has no wasm kernel)
  const x = tf.oneHot(tf.tensor1d(inputs, "int32"), V).asType("float32");
  const labels = tf.oneHot(tf.tensor1d(targets, "int32"), V);
  // one step of the cell, in PyTorch's definitions (docs/derivation.md: F1–F2, L1–L4, G1–G4)
  const stepOf = (xt: TF.Tensor, h: TF.Tensor, c: TF.Tensor): [TF.Tensor, TF.Tensor] => {
    if (cell === "rnn") return [tf.tanh(tf.add(tf.add(xt, tf.matMul(h, Wh)), bih)), c];
    if (cell === "lstm") {
      const [i, f, g, o] = tf.split(tf.add(tf.add(xt, tf.matMul(h, Wh)), bih), 4, 1);
      const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      return [tf.mul(tf.sigmoid(o), tf.tanh(cNext)), cNext];
    }
    const [xr, xz, xn] = tf.split(tf.add(xt, bih), 3, 1);
    const [hr, hz, hn] = tf.split(tf.add(tf.matMul(h, Wh), bhh), 3, 1);
    const r = tf.sigmoid(tf.add(xr, hr)), z = tf.sigmoid(tf.add(xz, hz));
    const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
    return [tf.add(n, tf.mul(z, tf.sub(h, n))), c]; // (1 − z) ⊙ n + z ⊙ h
  };
  const loss = (): TF.Scalar => {
    const xs = tf.unstack(tf.reshape(tf.matMul(x, Wi), [T, B, G * H])); // T × (B, G·H): W_ih x_t for all steps
    let h: TF.Tensor = tf.zeros([B, H]);
    let c: TF.Tensor = tf.zeros([B, H]);
    const hs: TF.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      [h, c] = stepOf(xs[t], h, c);
      hs.push(h);
    }
    const logits = tf.add(tf.matMul(tf.concat(hs, 0), Wo), bo);
    return tf.losses.softmaxCrossEntropy(labels, logits);
  };
  return {
    tokensPerStep: T * B, note,
    step: () => {
      tf.tidy(() => {
        optimizer.minimize(loss, false, vars);
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

async function brainSubject(cell: Cell, s: Shape): Promise<Subject> {
  const brain = (await import("brain.js")).default;
  const options = { inputSize: V, inputRange: V, outputSize: V, hiddenLayers: [s.H], learningRate: 2e-3 } as object;
  const Net = cell === "lstm" ? brain.recurrent.LSTM : cell === "gru" ? brain.recurrent.GRU : brain.recurrent.RNN;
  const net = new Net(options) as unknown as BrainRnn;
  if (cell === "rnn") {
    // f1 = tanh like the others (brain.js' RNN uses relu by default); its LSTM and GRU keep their own equations
    net.getEquation = (eq, input, previous, layer) =>
      eq.tanh(eq.add(eq.add(eq.multiply(layer.weight, input), eq.multiply(layer.transition, previous)), layer.bias));
  }
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
async function child(library: NodeLibrary, cell: Cell, shape: Shape, quick: boolean, style: TfjsStyle): Promise<void> {
  const subject =
    library === "bptt" ? await bpttSubject(cell, shape, undefined)
    : library === "bptt-1" ? await bpttSubject(cell, shape, 1)
    : library === "tfjs-cpu" ? await tfjsSubject(cell, shape, "cpu", style)
    : library === "tfjs-wasm" ? await tfjsSubject(cell, shape, "wasm", style)
    : await brainSubject(cell, shape);
  const report = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  report({ tokensPerStep: subject.tokensPerStep, note: subject.note });
  const time = (): number => {
    const t0 = performance.now();
    subject.step();
    return performance.now() - t0;
  };
  // warm-up: ≥ 2 steps and 1 s (quick: 1 step, 0.3 s); then ≥ 3 steps and 5 s (quick: 1 step, 1.5 s)
  const { warmMs, warmSteps, measureMs, measureSteps } = TIMING[quick ? "quick" : "full"];
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

/** How a case ended: measured; stopped by the budget before a step finished; failed; not run (no torch). */
type Status = "ok" | "timeout" | "failed" | "skipped";

/** What one child gave. */
interface ChildResult {
  readonly status: Status;
  /** tokens/s; undefined unless the status is "ok". */
  readonly tokensPerSec: number | undefined;
  readonly msPerStep: number | undefined;
  /** The child's note ("2 threads"), or the error of a failed case, or why it was not run. */
  readonly note: string;
}

interface Measured extends ChildResult {
  readonly library: Library;
  readonly cell: Cell;
  readonly shape: string;
  /** PyTorch: the result of each of TORCH_SETTINGS; the case itself is the fastest of them. */
  readonly bySetting?: readonly { readonly setting: TorchSetting; readonly result: ChildResult }[];
}

/** Seconds a child may take to set up (import its library, build the model) before its budget starts. */
const SETUP_CAP_SEC = 120;

/**
 * Runs one child that speaks the JSON-line protocol of `child` (a head line with tokensPerStep and
 * note once set up, then {phase, ms} per step) and takes the median of its measured steps.
 * @param command the executable (node, or the Python with torch)
 * @param args its arguments
 * @param budgetSec seconds the child may run after its set-up before it is killed
 * @returns the case's result; never rejects (a child that cannot start is a failed case)
 */
function runChild(command: string, args: readonly string[], budgetSec: number): Promise<ChildResult> {
  const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
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
    let settled = false;
    const finish = (code: number | null, spawnError: Error | undefined): void => {
      if (settled) return; // "exit" may follow "error"
      settled = true;
      clearTimeout(timer);
      // only JSON lines: TF.js prints advice on stdout
      const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      const head = lines.find((l) => typeof l["tokensPerStep"] === "number");
      const times = (phase: string): number[] => lines.filter((l) => l["phase"] === phase).map((l) => Number(l["ms"]));
      // measured steps; a child stopped by the budget counts what it finished, warm-up included (slow cases)
      let ms = times("measure");
      if (ms.length === 0 && timedOut) ms = times("warm");
      const failure =
        spawnError !== undefined ? `${command}: ${spawnError.message}`
        : timedOut && !started ? `set-up took over ${SETUP_CAP_SEC} s`
        : !timedOut && code !== 0 ? lastLine(err)
        : undefined;
      const tokens = Number(head?.["tokensPerStep"] ?? NaN);
      const msPerStep = ms.length === 0 || failure !== undefined ? undefined : median(ms);
      resolve({
        status: failure !== undefined ? "failed" : msPerStep === undefined ? "timeout" : "ok",
        msPerStep,
        note: failure !== undefined ? `failed: ${failure}` : String(head?.["note"] ?? ""),
        tokensPerSec: msPerStep === undefined ? undefined : tokens / (msPerStep / 1000),
      });
    };
    proc.on("error", (e) => finish(null, e));
    proc.on("exit", (code) => finish(code, undefined));
  });
}

async function measure(library: NodeLibrary, cell: Cell, shape: Shape, quick: boolean, budgetSec: number, style: TfjsStyle): Promise<Measured> {
  const script = fileURLToPath(import.meta.url);
  const flags = [...(quick ? ["--quick"] : []), ...(style === "layers" ? ["--tfjs-layers"] : [])];
  const result = await runChild(process.execPath, [script, "--child", library, cell, shape.name, ...flags], budgetSec);
  return { library, cell, shape: shape.name, ...result };
}

/** torch_step.py, beside this package's compare.ts (this file runs as dist/compare.js). */
const TORCH_SCRIPT = fileURLToPath(new URL("../torch_step.py", import.meta.url));

/** PyTorch in each of TORCH_SETTINGS, a child (and a budget) each; the case is the fastest of them. */
async function measureTorch(cell: Cell, shape: Shape, quick: boolean, budgetSec: number, python: string): Promise<Measured> {
  const t = TIMING[quick ? "quick" : "full"];
  const bySetting: { setting: TorchSetting; result: ChildResult }[] = [];
  for (const setting of TORCH_SETTINGS) {
    const args = [
      TORCH_SCRIPT, "--cell", cell, "--hidden", String(shape.H), "--seq-length", String(shape.T), "--batch-size", String(shape.B),
      "--vocab", String(V), "--threads", String(setting.threads), "--wait", setting.passive ? "passive" : "default",
      "--warm", `${t.warmMs},${t.warmSteps}`, "--measure", `${t.measureMs},${t.measureSteps}`,
    ];
    bySetting.push({ setting, result: await runChild(python, args, budgetSec) });
  }
  const results = bySetting.map((r) => r.result);
  const measured = results.filter((r) => r.tokensPerSec !== undefined);
  const best =
    measured.reduce<ChildResult | undefined>((a, r) => ((r.tokensPerSec ?? 0) > (a?.tokensPerSec ?? 0) ? r : a), undefined) ??
    results.find((r) => r.status === "timeout") ?? results[0];
  if (best === undefined) throw new Error("TORCH_SETTINGS is empty");
  return { library: "torch", cell, shape: shape.name, ...best, bySetting };
}

/** What the parent learned about the Python's torch before the runs. */
type TorchInfo =
  | { readonly ok: true; readonly version: string; readonly blas: string; readonly blasPath: string; readonly reference: boolean;
      readonly blasInfo: string; readonly defaultThreads: number }
  | { readonly ok: false; readonly reason: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Asks torch_step.py --probe for torch's version and the BLAS its sgemm_ resolves to. */
function probeTorch(python: string): TorchInfo {
  const r = spawnSync(python, [TORCH_SCRIPT, "--probe"], { encoding: "utf8", timeout: SETUP_CAP_SEC * 1000 });
  if (r.error !== undefined) return { ok: false, reason: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: lastLine(r.stderr) };
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  const o: unknown = line === undefined ? undefined : JSON.parse(line);
  const blas = isRecord(o) ? o["blas"] : undefined;
  if (!isRecord(o) || !isRecord(blas) || typeof o["torch"] !== "string" || typeof blas["name"] !== "string") {
    return { ok: false, reason: `torch_step.py --probe: expected a JSON line with torch and blas.name; received ${line ?? "no JSON"}` };
  }
  return {
    ok: true, version: o["torch"], blas: blas["name"], blasPath: String(blas["path"] ?? ""), reference: blas["reference"] === true,
    blasInfo: String(o["blasInfo"] ?? "?"), defaultThreads: Number(o["defaultThreads"] ?? NaN),
  };
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

/** The comma-separated value of a flag, each checked against the allowed names (case-insensitive). */
function names<N extends string>(flag: string, value: string | undefined, allowed: readonly N[]): N[] {
  return (value ?? "").split(",").map((v) => {
    const n = allowed.find((x) => x.toLowerCase() === v.toLowerCase());
    if (n === undefined) throw new Error(`${flag}: expected ${allowed.join(", ")}; received ${v}`);
    return n;
  });
}

const USAGE =
  "usage: npm run compare -- [--cell rnn,lstm,gru] [--shape S,M,L] [--library bptt,bptt-1,tfjs-cpu,tfjs-wasm,brain,torch] [--tfjs-layers] [--quick] [--budget SECONDS] [--python PATH]";

async function parent(argv: readonly string[]): Promise<void> {
  let shapes: readonly Shape[] | undefined;
  let cells: readonly Cell[] | undefined;
  let libraries: readonly Library[] = LIBRARIES;
  let quick = false;
  let style: TfjsStyle = "ops";
  let budget = 60;
  let python = DEFAULT_PYTHON;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return;
    }
    if (a === "--quick") quick = true;
    else if (a === "--tfjs-layers") style = "layers";
    else if (a === "--shape") {
      const wanted = names("--shape", argv[++i], SHAPES.map((s) => s.name));
      shapes = SHAPES.filter((s) => wanted.includes(s.name));
    } else if (a === "--cell") cells = names("--cell", argv[++i], CELLS);
    else if (a === "--library") libraries = names("--library", argv[++i], LIBRARIES);
    else if (a === "--budget") {
      budget = Number(argv[++i]);
      if (!(budget > 0)) throw new Error(`--budget: expected seconds > 0; received ${argv[i]}`);
    } else if (a === "--python") {
      const p = argv[++i];
      if (p === undefined || p === "") throw new Error(`--python: expected the path of a Python with torch; received nothing`);
      python = p;
    } else throw new Error(`unknown argument ${a}; ${USAGE}`);
  }
  // shape by shape, the cells at one shape together: each cell at its shapes, filtered by the flags; both flags given, exactly those
  const cases: { cell: Cell; shape: Shape }[] = [];
  for (const shape of shapes ?? SHAPES) {
    for (const cell of cells ?? CELLS) {
      if ((shapes !== undefined && cells !== undefined) || CELL_SHAPES[cell].includes(shape.name)) cases.push({ cell, shape });
    }
  }
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpu}, ${os.availableParallelism()} cores, Node ${process.version}`;
  const others = ([["TensorFlow.js", ["tfjs-cpu", "tfjs-wasm"]], ["brain.js", ["brain"]], ["PyTorch", ["torch"]]] as const)
    .filter(([, ls]) => ls.some((l) => libraries.includes(l))).map(([name]) => name);
  const title = others.length === 0 ? "bptt" : `bptt vs ${others.length === 1 ? others[0] : `${others.slice(0, -1).join(", ")} and ${others[others.length - 1]}`}`;
  console.log(`${title} — ${date}, ${machine}${quick ? " (quick)" : ""}${style === "layers" ? "; TF.js LSTM/GRU: tf.layers" : ""}`);
  console.log(
    `training step: forward + full BPTT + update, V=${V}, 1 layer (RNN: tanh); tokens/s (median step after warm-up); budget ${budget} s per case`,
  );
  // PyTorch: which torch and which BLAS, once, before the runs (or why it cannot run)
  const torch: TorchInfo | undefined = libraries.includes("torch") ? probeTorch(python) : undefined;
  const torchLine =
    torch === undefined ? ""
    : torch.ok ? `PyTorch ${torch.version} (${python}), BLAS: ${torch.blas}${torch.blasPath === "" ? "" : ` (${torch.blasPath})`}`
    : `PyTorch: not run — ${torch.reason}${torch.reason.includes("apt-get") ? "" : " (Debian: apt-get install python3-torch libopenblas0-pthread)"}; --python PATH names another Python`;
  const blasWarning =
    torch?.ok === true && torch.reference
      ? `WARNING: torch's matrix products run on the reference BLAS (netlib), ~30× slower than OpenBLAS: PyTorch's figures are not ` +
        `representative. Install libopenblas0-pthread (update-alternatives then points libblas.so.3 at it).`
      : "";
  if (torchLine !== "") console.log(torchLine);
  if (blasWarning !== "") console.log(blasWarning);
  console.log("");

  const results: Measured[] = [];
  const started = performance.now();
  const value = (r: ChildResult): string =>
    r.status === "ok" && r.tokensPerSec !== undefined ? `${fmt(r.tokensPerSec)} tokens/s${r.note !== "" ? ` (${r.note})` : ""}`
    : r.status === "timeout" ? `> ${budget} s/step`
    : r.note;
  for (const { cell, shape: s } of cases) {
    for (const library of libraries) {
      const line = (label: string, r: ChildResult): void => console.log(`  ${CELL_TITLE[cell].padEnd(4)} ${s.name} ${label.padEnd(25)} ${value(r)}`);
      if (library !== "torch") {
        const r = await measure(library, cell, s, quick, budget, style);
        results.push(r);
        line(LABEL[library], r);
      } else if (torch?.ok !== true) {
        const r: Measured = { library, cell, shape: s.name, status: "skipped", tokensPerSec: undefined, msPerStep: undefined, note: "no torch" };
        results.push(r);
        line("PyTorch", r);
      } else {
        const r = await measureTorch(cell, s, quick, budget, python);
        results.push(r);
        for (const { setting, result } of r.bySetting ?? []) line(`PyTorch ${settingName(setting)}`, result);
      }
    }
  }

  const entry = (r: ChildResult | undefined): string =>
    r === undefined ? ""
    : r.status === "ok" && r.tokensPerSec !== undefined ? fmt(r.tokensPerSec)
    : r.status === "timeout" ? `> ${budget} s/step`
    : r.status === "failed" ? "failed"
    : r.note;
  const ratio = (a: Measured | undefined, b: Measured | undefined): string => {
    if (a?.tokensPerSec === undefined || b === undefined) return "";
    if (b.tokensPerSec === undefined) return b.status === "timeout" ? `> ${fmt((a.tokensPerSec * budget) / tokensOf(b), 0)}×` : "";
    return `${fmt(a.tokensPerSec / b.tokensPerSec, a.tokensPerSec / b.tokensPerSec >= 100 ? 0 : 1)}×`;
  };
  const tokensOf = (r: Measured): number => {
    const s = SHAPES.find((x) => x.name === r.shape);
    if (s === undefined) return NaN;
    return r.library === "brain" ? s.T : s.T * s.B;
  };
  const versus: readonly [Library, string][] = [
    ["tfjs-cpu", "bptt / TF.js cpu"], ["tfjs-wasm", "bptt / TF.js wasm"], ["brain", "bptt / brain.js"], ["torch", "bptt / PyTorch"],
  ];
  const ratios = libraries.includes("bptt") ? versus.filter(([l]) => libraries.includes(l)) : [];
  const header = ["cell", "shape", ...libraries.map((l) => LABEL[l]), ...ratios.map(([, title]) => title)];
  const rows = cases.map(({ cell, shape: s }) => {
    const get = (l: Library): Measured | undefined => results.find((r) => r.cell === cell && r.shape === s.name && r.library === l);
    const bptt = get("bptt");
    return [CELL_TITLE[cell], `${s.name} (H${s.H} T${s.T} B${s.B})`, ...libraries.map((l) => entry(get(l))), ...ratios.map(([l]) => ratio(bptt, get(l)))];
  });
  const threadsNote = results.filter((r) => r.library === "bptt").map((r) => `${CELL_TITLE[r.cell]} ${r.shape}: ${r.note}`).join(", ");
  const torchRuns = results.filter((r) => r.bySetting !== undefined).map((r) => {
    const each = (r.bySetting ?? []).map(({ result }) => entry(result));
    return `${CELL_TITLE[r.cell]} ${r.shape}: ${each.join(" / ")}`;
  });
  console.log(`\n| ${header.join(" | ")} |`);
  console.log(`|${header.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log(
    `\ntokens/s${threadsNote === "" ? "" : `; bptt uses the threads training would (${threadsNote})`}` +
      `${libraries.includes("brain") ? "; brain.js runs batch 1 at each shape's H and T" : ""}. ` +
      `"> ${budget} s/step": no step finished within the budget (the ratio is then a lower bound). ${date}, ${machine}; ` +
      `the run took ${fmt((performance.now() - started) / 60000, 1)} min.`,
  );
  if (torchRuns.length > 0 && torch?.ok === true) {
    console.log(
      `\n${torchLine}; torch's default here: ${torch.defaultThreads} thread${torch.defaultThreads > 1 ? "s" : ""}, BLAS_INFO=${torch.blasInfo}. ` +
        `Its column is the best of ${TORCH_SETTINGS.map(settingName).join(", ")} (threads: torch.set_num_threads and the BLAS's; ` +
        `passive: OMP_WAIT_POLICY=PASSIVE), tokens/s in that order: ${torchRuns.join(", ")}.`,
    );
  } else if (torch?.ok === false) console.log(`\n${torchLine}`);
  if (blasWarning !== "") console.log(blasWarning);
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  const library = LIBRARIES.find((l): l is NodeLibrary => l !== "torch" && l === argv[1]);
  const cell = CELLS.find((c) => c === argv[2]);
  const shape = SHAPES.find((s) => s.name === argv[3]);
  if (library === undefined || cell === undefined || shape === undefined) throw new Error(`bad child arguments ${argv.join(" ")}`);
  await child(library, cell, shape, argv.includes("--quick"), argv.includes("--tfjs-layers") ? "layers" : "ops");
} else {
  await parent(argv);
}
