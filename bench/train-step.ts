/**
 * `npm run bench`: the training step of the char-RNN language model (forward, full BPTT, Adam
 * update) at the reference shapes of docs/architecture.md (Measuring speed), for each cell — the simple RNN at S, M and L, the
 * LSTM and the GRU at M and L — and at the wide-vocabulary shape W (M's H, T, B with V = 5,000: a
 * CJK text) for every cell, plus the GEMM micro-benchmark with each shape's share of the FMA peak,
 * where a step's time goes, and how fast `sample` and `evaluate` run.
 *
 *   npm run bench                                 table, default kernels: rnn S M L W, lstm M L W, gru M L W
 *   npm run bench -- --shape W                    the wide vocabulary only, every cell
 *   npm run bench -- --shape M --json             one JSON object per (cell, shape, kernels, threads) on stdout
 *   npm run bench -- --cell lstm,gru              those cells only (at their shapes, M, L and W)
 *   npm run bench -- --cell lstm --shape S        both flags: exactly those cells at those shapes
 *   npm run bench -- --kernels portable,wasm      both implementations in one run, with their ratio
 *   npm run bench -- --kernels wasm,wasm-simd     the WebAssembly builds: FMA (relaxed SIMD; the default where
 *                                                 it runs) and plain SIMD
 *   npm run bench -- --threads 1,2                one thread and two (default: 1 and the number of cores)
 *   npm run bench -- --quick                      shorter measurements (a few minutes for all ten rows)
 *   npm run bench -- --gemm                       the GEMM micro-benchmark only
 *   npm run bench -- --ghz 3.5                    the clock of the FMA peak, instead of measuring it (findClock)
 *
 * tokens/s = T·B / (median time of one step after warm-up); a token is one time step of one
 * sequence through forward, BPTT and the update. GFLOP/s = tokens/s × trainingFlopsPerToken / 1e9
 * (6·G·H² + 6·V·H, G the cell's gate blocks: 1 RNN, 4 LSTM, 3 GRU).
 * Peak RSS: of `bptt train --cell C --layers 1 --output-dropout 0` (the built CLI; the row's model) at the shape and thread count, a few steps in a child
 * process of its own (bench/memory.ts); "needs" is what parameters, gradients (with threads, the
 * workers' slices' own too), Adam's two moments and the chunk's activations take; "×needs" is
 * (peak − the peak of a bare Node process) / needs, the run's memory over what it must hold.
 * Threads: the engine training would use (createTrainingEngine): data-parallel over the batch
 * where a thread pays (chooseThreads), so a shape may run on fewer threads than asked for.
 * Time per kernel: one-thread rows run a few more steps on kernels that time every call
 * (profiledKernels), which shows what dominates a step: which GEMM, the fused cell passes, Adam;
 * and the output layer's share (its three GEMMs and the softmax), the bulk of a step at W.
 * FMA peak: 16 flop per cycle and core (4 lanes × 2 flop × 2 FMA units) × the clock: --ghz, else
 * `perf stat -e cycles`, else a timed chain of dependent adds (bench/lib.ts findClock); printed with its source.
 * Sampling and evaluation: one-thread rows also time `sample` and `evaluateIds` on the row's model.
 */
import { enableWasmFma } from "../src/kernels/fma-flag.ts";
import { kernelsByName, defaultKernels } from "../src/kernels/index.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import type { Kernels } from "../src/kernels/types.ts";
import type { Batch } from "../src/model/batch.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { evaluateIds } from "../src/model/evaluate.ts";
import { initParams } from "../src/model/init.ts";
import { LmEngine, type TrainingEngine } from "../src/model/lm.ts";
import { paramCount, stateLength, trainingFlopsPerToken } from "../src/model/params.ts";
import { sample } from "../src/model/sample.ts";
import { createTrainingEngine, defaultThreads } from "../src/model/threaded.ts";
import { CELL_NAMES, cellOf } from "../src/cells/index.ts";
import type { CellName } from "../src/cells/types.ts";
import { Rng } from "../src/rng.ts";
import { Optimizer } from "../src/train/optimizers.ts";
import {
  benchGemm, FMA_FLOP_PER_CYCLE, findClock, gemmKey, kernelLabel, machineInfo, median, profiledKernels,
  type Clock, type GemmResult, type GemmShape,
} from "./lib.ts";
import { bareNodePeak, cliBuilt, MEMORY_STEPS, trainingPeak, wideSymbols } from "./memory.ts";

/** A reference shape of docs/architecture.md (Measuring speed), or the wide-vocabulary shape W. */
interface Shape {
  readonly name: string;
  readonly H: number;
  readonly T: number;
  readonly B: number;
  /** Vocabulary: 65 (the reference shapes' character set, docs/architecture.md), or 5,000 (W: a CJK text's thousands of symbols). */
  readonly V: number;
}

// relaxed SIMD (the FMA build of the kernels) as the bptt command has it; before any module compiles
enableWasmFma();

const SHAPES: readonly Shape[] = [
  { name: "S", H: 100, T: 25, B: 1, V: 65 },
  { name: "M", H: 256, T: 50, B: 32, V: 65 },
  { name: "L", H: 1024, T: 50, B: 64, V: 65 },
  // M with a CJK text's vocabulary: the output layer's three GEMMs (6·V·H per token) outweigh the recurrence
  { name: "W", H: 256, T: 50, B: 32, V: 5000 },
];

/**
 * The shapes a cell runs at by default: every cell at M, L and W; a cell of one gate block (the
 * article's simple RNN) at S too.
 */
function cellShapes(cell: CellName): readonly string[] {
  return cellOf(cell).gateNames.length === 1 ? ["S", "M", "L", "W"] : ["M", "L", "W"];
}

/** One row group of the table: a cell at a shape. */
interface Case {
  readonly cell: CellName;
  readonly shape: Shape;
}

interface Args {
  /** Given with --shape; undefined: each cell's default shapes. */
  shapes: Shape[] | undefined;
  /** Given with --cell; undefined: every cell. */
  cells: CellName[] | undefined;
  kernels: Kernels[];
  threads: number[];
  json: boolean;
  quick: boolean;
  gemmOnly: boolean;
  /** Given with --ghz: the clock of the FMA peak; undefined: measured (findClock). */
  ghz: number | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { shapes: undefined, cells: undefined, kernels: [], threads: [], json: false, quick: false, gemmOnly: false, ghz: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--") continue;
    else if (a === "--json") args.json = true;
    else if (a === "--quick") args.quick = true;
    else if (a === "--gemm") args.gemmOnly = true;
    else if (a === "--shape") {
      for (const name of value().split(",")) {
        const s = SHAPES.find((x) => x.name === name.toUpperCase());
        if (s === undefined) throw new Error(`--shape: expected S, M, L or W; received ${name}`);
        (args.shapes ??= []).push(s);
      }
    } else if (a === "--cell") {
      for (const name of value().split(",")) {
        const c = CELL_NAMES.find((x) => x === name.toLowerCase());
        if (c === undefined) throw new Error(`--cell: expected ${CELL_NAMES.join(", ")}; received ${name}`);
        (args.cells ??= []).push(c);
      }
    } else if (a === "--kernels") {
      // wasm-simd: the plain SIMD build beside the default one (the FMA build where relaxed SIMD runs)
      for (const name of value().split(",")) args.kernels.push(name === "wasm-simd" ? createWasmKernels({ build: "simd" }) : kernelsByName(name));
    } else if (a === "--threads") {
      for (const t of value().split(",")) {
        const n = Number(t);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--threads: expected integers ≥ 1; received ${t}`);
        args.threads.push(n);
      }
    } else if (a === "--ghz") {
      const v = value();
      const ghz = Number(v);
      if (!(Number.isFinite(ghz) && ghz > 0)) throw new Error(`--ghz: expected a clock in GHz > 0, e.g. 3.5; received ${v}`);
      args.ghz = ghz;
    } else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: npm run bench -- [--cell rnn,lstm,gru] [--shape S,M,L,W] [--kernels portable,wasm] [--threads 1,2] [--json] [--quick] [--gemm] [--ghz 3.5]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  if (args.kernels.length === 0) args.kernels = [defaultKernels()];
  if (args.threads.length === 0) args.threads = [...new Set([1, defaultThreads()])];
  return args;
}

/**
 * The (cell, shape) cases to run, shape by shape (so that the cells at one shape sit together):
 * each cell at its default shapes, filtered by --shape and --cell; both flags given, exactly those.
 */
function casesOf(args: Args): Case[] {
  const cells = args.cells ?? CELL_NAMES;
  const cases: Case[] = [];
  for (const shape of args.shapes ?? SHAPES) {
    for (const cell of cells) {
      if (args.cells !== undefined && args.shapes !== undefined) cases.push({ cell, shape });
      else if (cellShapes(cell).includes(shape.name)) cases.push({ cell, shape });
    }
  }
  return cases; // never empty: the RNN runs at every shape, and every cell at some
}

/** What one kernel (a GEMM: one shape of it) took of a step, on one thread. */
interface ProfileEntry {
  /** Kernel name, or "gemm M×N×K op". */
  kernel: string;
  /** What the GEMM is in the model, when it is one of `gemmShapes`. */
  what?: string;
  calls: number;
  msPerStep: number;
  /** msPerStep over the profiled step's wall time. */
  share: number;
}

/** A measured GEMM with its share of one core's WebAssembly FMA peak (FMA_FLOP_PER_CYCLE × the clock). */
interface GemmRow extends GemmResult {
  /** gflops / (16 · clock GHz). */
  readonly fmaPeakShare: number;
}

/** Result of one (cell, shape, kernels, threads) measurement; the JSON line printed with --json. */
interface StepResult {
  /** The recurrent cell: rnn, lstm, gru. */
  cell: CellName;
  shape: string;
  H: number;
  T: number;
  B: number;
  V: number;
  kernels: string;
  /** Threads the step ran on. */
  threads: number;
  /** Threads asked for (more than `threads` where chooseThreads says they do not pay). */
  threadsAsked: number;
  tokensPerSec: number;
  gflops: number;
  msPerStep: number;
  steps: number;
  /** Peak RSS of `bptt train` at this shape and thread count (undefined without a built CLI). */
  peakRssMiB?: number;
  /** Peak RSS of a bare Node process, in the same run. */
  nodeRssMiB?: number;
  /** Parameters, gradients, Adam's moments and one chunk's activations. */
  needsMiB: number;
  /** (peakRssMiB − nodeRssMiB) / needsMiB. */
  memoryOverNeeds?: number;
  gemm: GemmRow[];
  /** The clock the FMA peak shares are computed from, and its source. */
  clock: Clock;
  /** One-thread rows: time per kernel in a step, largest first; the last entry, "other", is the rest (JS, copies). */
  profile?: ProfileEntry[];
  /**
   * One-thread rows: the output layer's share of the profiled step — the logits GEMM, its two backward
   * GEMMs, and the softmax cross-entropy forward and backward (F3–F5, B1–B3's dW_o and W_oᵀ dȳ).
   */
  outputShare?: number;
  /** One-thread rows: characters per second of `sample` (a model as a checkpoint loads it, as `bptt sample` runs). */
  sampleCharsPerSec?: number;
  /** One-thread rows: characters per second of `evaluateIds` (one stream, 200 steps a pass: `bptt eval`). */
  evalCharsPerSec?: number;
  speedupVsPortable?: number;
  /** tokens/s over the same shape and kernels on one thread, in this run. */
  speedupVsOneThread?: number;
  machine: ReturnType<typeof machineInfo>;
}

/**
 * The GEMMs one training step of a cell at a shape runs, as the layers call them (src/cells/<cell>/layer.ts,
 * src/nn/linear.ts): the recurrent layer's three, then the output layer's (`outputGemms`).
 * G·H = the gate blocks' rows of W_hh: H for the RNN, 4H for the LSTM, 3H for the GRU.
 */
function gemmShapes(cell: CellName, s: Shape): GemmShape[] {
  const { H, T, B } = s;
  const G = cellOf(cell).gateNames.length;
  const GH = G * H;
  const gh = G === 1 ? "H" : `${G}H`;
  // the gradient of the recurrent pre-activations: dh̄ (B4), da (L7), da^h (G7–G8)
  const da = cell === "rnn" ? "dh̄" : cell === "gru" ? "da^h" : "da";
  return [
    { M: B, N: GH, K: H, op: "NT", what: `recurrence h_{t−1} W_hhᵀ, (B, H)·(H, ${gh}), T per step` },
    { M: B, N: H, K: GH, op: "NN", what: `BPTT ${da}_{t+1} W_hh, (B, ${gh})·(${gh}, H), T per step` },
    { M: GH, N: H, K: T * B, op: "TN", what: `dW_hh = Σ ${da}_t h_{t−1}ᵀ, (${gh}, H) over T·B rows` },
    ...outputGemms(s),
  ];
}

/** The output layer's GEMMs (src/nn/linear.ts, once per chunk): F3's logits and B2–B3's two products. */
function outputGemms(s: Shape): GemmShape[] {
  const { H, T, B, V } = s;
  return [
    { M: T * B, N: V, K: H, op: "NT", what: "logits h W_oᵀ" },
    { M: T * B, N: H, K: V, op: "NN", what: "dh = dȳ W_o" },
    { M: V, N: H, K: T * B, op: "TN", what: "dW_o = Σ dȳ hᵀ" },
  ];
}

/** Random batches of a shape: the step cycles through them. */
function randomBatches(T: number, B: number, V: number, rng: Rng): Batch[] {
  const batches: Batch[] = [];
  for (let i = 0; i < 4; i++) {
    const inputs = new Int32Array(T * B), targets = new Int32Array(T * B);
    for (let j = 0; j < T * B; j++) {
      inputs[j] = rng.int(V);
      targets[j] = rng.int(V);
    }
    batches.push({ inputs, targets, T, B });
  }
  return batches;
}

/**
 * One training step as the trainer runs it, on `engine` and `optimizer`.
 * @returns a function that runs the next step and returns its milliseconds
 */
function stepper(
  engine: TrainingEngine, optimizer: Optimizer, params: Float32Array, grads: Float32Array, batches: readonly Batch[],
): () => number {
  const { T, B } = batches[0];
  // the state carried from chunk to chunk: h, and c for the LSTM, (S, L, B, H)
  const state = new Float32Array(stateLength(engine.config, B));
  let stepNo = 0;
  return () => {
    const batch = batches[stepNo++ % batches.length];
    const t0 = performance.now();
    engine.lossAndGrads(params, grads, batch, stepNo > 1 ? state : undefined, 1 / (T * B));
    optimizer.step(params, grads);
    engine.finalState(state); // truncated BPTT: the state goes on to the next chunk
    return performance.now() - t0;
  };
}

/** Time training steps of one cell at one shape with one kernel set and up to `threadsAsked` threads. */
async function benchStep(c: Case, k: Kernels, threadsAsked: number, quick: boolean, clock: Clock): Promise<StepResult> {
  const { cell, shape: s } = c;
  const { H, T, B, V } = s;
  const config: ModelConfig = { cell, nonlinearity: "tanh", layers: 1, hiddenSize: H, vocabSize: V, bias: true };
  const P = paramCount(config);
  const rng = new Rng(42);
  // parameters and gradients in kernel memory, so that the WebAssembly engine copies nothing
  const params = k.allocate(P);
  const grads = k.allocate(P);
  initParams(params, config, rng);
  const engine = await createTrainingEngine(config, T, B, { kernels: k, threads: threadsAsked });
  const { threads } = engine;
  const optimizer = new Optimizer({ name: "adam", lr: 2e-3 }, P, k);
  const batches = randomBatches(T, B, V, rng);
  const step = stepper(engine, optimizer, params, grads, batches);
  // warm-up: at least 2 steps (1) and 1 s (0.3 s); then measure for 5 s (1.5 s), at least 3 steps (1)
  const warmMs = quick ? 300 : 1000, measureMs = quick ? 1500 : 5000, minSteps = quick ? 1 : 3;
  const minWarm = quick ? 1 : 2;
  let spent = 0;
  for (let i = 0; i < minWarm || spent < warmMs; i++) spent += step();
  const times: number[] = [];
  spent = 0;
  while (times.length < minSteps || spent < measureMs) {
    const t = step();
    times.push(t);
    spent += t;
  }
  const msPerStep = median(times);
  const tokensPerSec = (T * B) / (msPerStep / 1000);
  await engine.dispose();
  optimizer.dispose();
  // on one thread: where the step's time goes, kernel by kernel; and generation's and evaluation's speed
  const profile = threads > 1 ? undefined : profileStep(c, config, k, params, grads, batches, quick);
  const inference = threads > 1 ? undefined : inferenceSpeed(config, params, k, quick);
  k.free(params);
  k.free(grads);
  // (the GEMMs run on one core: measured once per cell, shape and kernels)
  const gemm = threads > 1 ? [] : gemmShapes(cell, s).map((g) => withPeakShare(benchGemm(k, g, quick ? 0.2 : 0.6), clock));
  // params, grads, Adam m and v; the cell's activations, logits; with threads, the workers' slices' own gradients
  const needsMiB = (((4 + threads - 1) * P + cellOf(cell).layer.bufferFloats(T, B, H) + T * B * V) * 4) / 2 ** 20;
  return {
    cell, shape: s.name, H, T, B, V, kernels: kernelLabel(k), threads, threadsAsked, tokensPerSec,
    gflops: (tokensPerSec * trainingFlopsPerToken(config)) / 1e9, msPerStep, steps: times.length, needsMiB, gemm, clock,
    ...(profile === undefined ? {} : { profile, outputShare: outputShareOf(profile, s) }),
    ...inference,
    machine: machineInfo(),
  };
}

/** @returns the GEMM's result with its share of one core's FMA peak at `clock` */
function withPeakShare(g: GemmResult, clock: Clock): GemmRow {
  return { ...g, fmaPeakShare: g.gflops / (FMA_FLOP_PER_CYCLE * clock.ghz) };
}

/** The kernels of the output layer besides its GEMMs: F4–F5 and B1. */
const SOFTMAX_KERNELS: readonly string[] = ["softmaxCrossEntropy", "softmaxCrossEntropyBackward"];

/**
 * @param profile a step's kernels (profileStep)
 * @returns the share of the profiled step that the output layer's three GEMMs and its softmax took
 */
function outputShareOf(profile: readonly ProfileEntry[], s: Shape): number {
  const keys = new Set([...outputGemms(s).map((g) => `gemm ${gemmKey(g.M, g.N, g.K, g.op === "TN", g.op === "NT")}`), ...SOFTMAX_KERNELS]);
  return profile.filter((e) => keys.has(e.kernel)).reduce((sum, e) => sum + e.share, 0);
}

/**
 * Characters per second of generation and of evaluation on one thread, as `bptt sample` and `bptt eval`
 * run them: on a model as a checkpoint loads (parameters in a plain array, not kernel memory), with
 * the wide rows' symbols as its vocabulary, through `sample` (temperature 1) and `evaluateIds` (one
 * stream, 200 steps a forward pass, the hidden state carried).
 * @param params the trained-for-a-while parameters (copied)
 * @returns both rates, each the median of a few timed runs sized to the budget
 */
function inferenceSpeed(
  config: ModelConfig, params: Float32Array, k: Kernels, quick: boolean,
): { sampleCharsPerSec: number; evalCharsPerSec: number } {
  const model = { config, vocab: wideSymbols(config.vocabSize), params: Float32Array.from(params) };
  const ms = quick ? 300 : 1000;
  // `run(n)` handles n characters and returns its milliseconds; n is sized to a third of the budget
  // from a first, short run (the warm-up), and the median of three runs counts
  const rate = (run: (n: number) => number, n0: number): number => {
    const n = Math.max(n0, Math.round((n0 * ms) / 3 / Math.max(run(n0), 1e-3)));
    const rates: number[] = [];
    for (let r = 0; r < 3; r++) rates.push(n / (run(n) / 1000));
    return median(rates);
  };
  const timed = (f: () => void): number => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const sampleCharsPerSec = rate((n) => timed(() => void sample(model, { length: n, seed: n, kernels: k })), 20);
  const rng = new Rng(3);
  const evalCharsPerSec = rate((n) => {
    const ids = Int32Array.from({ length: n + 1 }, () => rng.int(config.vocabSize)); // n predicted characters
    return timed(() => void evaluateIds(model, ids, { kernels: k }));
  }, 400);
  return { sampleCharsPerSec, evalCharsPerSec };
}

/**
 * Run a few more steps on one thread with every kernel call timed (profiledKernels).
 * @returns the kernels by time per step, largest first, and "other" (what is not a kernel call) last
 */
function profileStep(
  c: Case, config: ModelConfig, k: Kernels, params: Float32Array, grads: Float32Array, batches: readonly Batch[], quick: boolean,
): ProfileEntry[] {
  const timed = profiledKernels(k);
  const engine = new LmEngine(config, timed.kernels);
  const optimizer = new Optimizer({ name: "adam", lr: 2e-3 }, params.length, timed.kernels);
  const step = stepper(engine, optimizer, params, grads, batches);
  step(); // the engine's buffers are allocated in its first step
  timed.profile.clear();
  // at least 2 steps and 1 s (quick: 1 step)
  let steps = 0, wall = 0;
  while (steps < (quick ? 1 : 2) || wall < (quick ? 0 : 1000)) {
    wall += step();
    steps++;
  }
  engine.dispose();
  optimizer.dispose();
  const labels = new Map(gemmShapes(c.cell, c.shape).map((g) => [`gemm ${gemmKey(g.M, g.N, g.K, g.op === "TN", g.op === "NT")}`, g.what]));
  const entries: ProfileEntry[] = [...timed.profile].map(([kernel, e]) => {
    const what = labels.get(kernel);
    return { kernel, ...(what === undefined ? {} : { what }), calls: e.calls / steps, msPerStep: e.ms / steps, share: e.ms / wall };
  });
  entries.sort((a, b) => b.msPerStep - a.msPerStep);
  const inKernels = entries.reduce((sum, e) => sum + e.msPerStep, 0);
  entries.push({ kernel: "other", calls: 0, msPerStep: wall / steps - inKernels, share: 1 - (inKernels * steps) / wall });
  return entries;
}

const CEILING_SHAPES: readonly GemmShape[] = [
  { M: 256, N: 256, K: 256, op: "NN", what: "256³" },
  { M: 256, N: 256, K: 256, op: "NT", what: "256³" },
  { M: 256, N: 256, K: 256, op: "TN", what: "256³" },
  { M: 1024, N: 1024, K: 1024, op: "NN", what: "1024³" },
];

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** @returns a share as "12.3 %" */
function pct(share: number): string {
  return `${fmt(100 * share, 1)} %`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const m = machineInfo();
  const log = (line: string): void => {
    // with --json, stdout carries only the JSON lines; the human-readable text goes to stderr
    (args.json ? process.stderr : process.stdout).write(line + "\n");
  };
  log(`bptt bench — ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} ${m.platform}`);
  log(`kernels: ${args.kernels.map(kernelLabel).join(", ")}; threads: ${args.threads.join(", ")}${args.quick ? " (quick)" : ""}`);
  const clock = findClock(args.ghz);
  const peak = FMA_FLOP_PER_CYCLE * clock.ghz;
  log(`clock: ${fmt(clock.ghz, 2)} GHz, from ${clock.source}; FMA peak of one core ${FMA_FLOP_PER_CYCLE} flop/cycle = ${fmt(peak, 1)} GFLOP/s`);

  if (args.gemmOnly || !args.json) {
    log("\nGEMM micro-benchmark (C += op(A)·op(B), one core), GFLOP/s and share of the FMA peak");
    log(`  ${"shape".padEnd(22)}${args.kernels.map((k) => `${kernelLabel(k).padStart(10)}${"peak".padStart(8)}`).join("")}`);
    for (const g of CEILING_SHAPES) {
      const r = args.kernels.map((k) => withPeakShare(benchGemm(k, g, args.quick ? 0.2 : 0.6), clock));
      log(`  ${`${g.M}×${g.N}×${g.K} ${g.op}`.padEnd(22)}${r.map((x) => `${fmt(x.gflops, 2).padStart(10)}${pct(x.fmaPeakShare).padStart(8)}`).join("")}`);
    }
    if (args.gemmOnly) return;
  }

  const results: StepResult[] = [];
  const memory = { node: cliBuilt() ? bareNodePeak().peakMiB : undefined };
  if (memory.node === undefined) log("\n(no peak RSS: the CLI is not built; run npm run build)");
  for (const c of casesOf(args)) {
    const s = c.shape;
    for (const k of args.kernels) {
      for (const threads of args.threads) {
        // threads need the WebAssembly kernels' shared memory; and a case that runs on one thread anyway is measured once
        if (threads > 1 && k.name !== "wasm") continue;
        const r = await benchStep(c, k, threads, args.quick, clock);
        const same = (x: StepResult): boolean => x.cell === c.cell && x.shape === s.name && x.kernels === kernelLabel(k);
        if (threads > 1 && r.threads === 1 && results.some((x) => same(x) && x.threads === 1)) continue;
        // memory: the CLI's run (WebAssembly kernels, its default) of this cell at this shape and thread count
        if (k.name === "wasm" && memory.node !== undefined) {
          r.nodeRssMiB = memory.node;
          r.peakRssMiB = trainingPeak(s, r.threads, c.cell).peakMiB;
          r.memoryOverNeeds = (r.peakRssMiB - r.nodeRssMiB) / r.needsMiB;
        }
        const portable = results.find((x) => x.cell === c.cell && x.shape === s.name && x.kernels === "portable" && x.threads === 1);
        if (portable !== undefined && k.name !== "portable") r.speedupVsPortable = r.tokensPerSec / portable.tokensPerSec;
        const one = results.find((x) => same(x) && x.threads === 1);
        if (one !== undefined && r.threads > 1) r.speedupVsOneThread = r.tokensPerSec / one.tokensPerSec;
        results.push(r);
        if (args.json) process.stdout.write(JSON.stringify(r) + "\n");
      }
    }
  }
  if (args.json) return;

  log("\nTraining step: forward + full BPTT + Adam, 1 layer (RNN: tanh); GFLOP/s from 6·G·H² + 6·V·H per token");
  log(
    `  ${"cell shape".padEnd(30)}${"kernels".padEnd(10)}${"threads".padStart(8)}${"tokens/s".padStart(12)}${"GFLOP/s".padStart(9)}` +
      `${"ms/step".padStart(10)}${"steps".padStart(7)}${"peak RSS".padStart(10)}${"needs".padStart(11)}${"×needs".padStart(8)}` +
      `${"ratio".padStart(8)}${"×1 thr".padStart(8)}`,
  );
  for (const r of results) {
    log(
      `  ${`${cellOf(r.cell).title} ${r.shape} H${r.H} T${r.T} B${r.B} V${r.V}`.padEnd(30)}${r.kernels.padEnd(10)}${String(r.threads).padStart(8)}` +
        `${fmt(r.tokensPerSec).padStart(12)}${fmt(r.gflops, 2).padStart(9)}${fmt(r.msPerStep, 2).padStart(10)}${String(r.steps).padStart(7)}` +
        `${(r.peakRssMiB === undefined ? "" : `${fmt(r.peakRssMiB)} MiB`).padStart(10)}${`${fmt(r.needsMiB, 1)} MiB`.padStart(11)}` +
        `${(r.memoryOverNeeds === undefined ? "" : `${fmt(r.memoryOverNeeds, 2)}×`).padStart(8)}` +
        `${(r.speedupVsPortable === undefined ? "" : `${fmt(r.speedupVsPortable, 1)}×`).padStart(8)}` +
        `${(r.speedupVsOneThread === undefined ? "" : `${fmt(r.speedupVsOneThread, 2)}×`).padStart(8)}`,
    );
  }
  log("\nGEMMs of the training step (one core), GFLOP/s and share of the FMA peak");
  for (const r of results) {
    for (const g of r.gemm) {
      log(
        `  ${`${cellOf(r.cell).title} ${r.shape}`.padEnd(7)} ${r.kernels.padEnd(9)} ${`${g.M}×${g.N}×${g.K} ${g.op}`.padEnd(18)} ` +
          `${fmt(g.gflops, 2).padStart(7)}${pct(g.fmaPeakShare).padStart(8)}  ${g.what}`,
      );
    }
  }
  log("\nGeneration and evaluation (one thread): characters per second of sample (temperature 1) and of evaluate (1 stream, T = 200)");
  for (const r of results) {
    if (r.sampleCharsPerSec === undefined || r.evalCharsPerSec === undefined) continue;
    log(
      `  ${`${cellOf(r.cell).title} ${r.shape} H${r.H} V${r.V}`.padEnd(20)} ${r.kernels.padEnd(9)} ` +
        `sample ${fmt(r.sampleCharsPerSec).padStart(8)} chars/s   evaluate ${fmt(r.evalCharsPerSec).padStart(9)} chars/s`,
    );
  }
  log("\nWhere a step's time goes (one thread, every kernel call timed): ms per step and share; the kernels over 1 %, the rest summed");
  for (const r of results) {
    if (r.profile === undefined) continue;
    const shown = r.profile.filter((e) => e.kernel !== "other" && e.share >= 0.01);
    const rest = r.profile.filter((e) => e.kernel !== "other" && e.share < 0.01);
    const other = r.profile.find((e) => e.kernel === "other");
    const total = r.profile.reduce((sum, e) => sum + e.msPerStep, 0);
    log(
      `  ${cellOf(r.cell).title} ${r.shape} V${r.V} ${r.kernels}: ${fmt(total, 2)} ms per profiled step (${fmt(r.msPerStep, 2)} ms measured untimed); ` +
        `the output layer (its 3 GEMMs, the softmax) ${pct(r.outputShare ?? 0)}`,
    );
    const line = (name: string, ms: number, share: number, what = ""): void =>
      log(`    ${name.padEnd(30)}${fmt(ms, ms < 1 ? 3 : 2).padStart(10)} ms${`${fmt(100 * share, 1)} %`.padStart(9)}  ${what}`);
    for (const e of shown) line(e.kernel, e.msPerStep, e.share, e.what ?? `${fmt(e.calls)} call${e.calls === 1 ? "" : "s"} per step`);
    if (rest.length > 0) {
      line(`${rest.length} other kernels`, rest.reduce((a, e) => a + e.msPerStep, 0), rest.reduce((a, e) => a + e.share, 0), rest.map((e) => e.kernel).join(", "));
    }
    if (other !== undefined) line("outside kernels", other.msPerStep, other.share, "JS, copies, the timer");
  }
  log(
    `\nratio = tokens/s over the portable kernels' in this run; ×1 thr = over one thread's. A case listed once ran on ` +
      `one thread only (more do not pay: chooseThreads). Peak RSS: \`bptt train --cell C --layers 1 --output-dropout 0\` at the shape, ${MEMORY_STEPS} steps in a process of its ` +
      `own (WebAssembly kernels); ×needs = (peak − ${memory.node === undefined ? "?" : fmt(memory.node)} MiB, a bare Node ` +
      `process's peak) / needs.`,
  );
}

await main();
