/**
 * `npm run bench`: the training step of the char-RNN language model (forward, full BPTT, Adam
 * update) at the reference shapes of DESIGN §4, plus the GEMM micro-benchmark.
 *
 *   npm run bench                                 table, default kernels, shapes S M L
 *   npm run bench -- --shape M --json             one JSON object per (shape, kernels) on stdout
 *   npm run bench -- --kernels portable,wasm      both implementations in one run, with their ratio
 *   npm run bench -- --threads 1,2                one thread and two (default: 1 and the number of cores)
 *   npm run bench -- --quick                      shorter measurements (< 1 minute)
 *   npm run bench -- --gemm                       the GEMM micro-benchmark only
 *
 * tokens/s = T·B / (median time of one step after warm-up); a token is one time step of one
 * sequence through forward, BPTT and the update. GFLOP/s = tokens/s × (6H² + 6VH) / 1e9.
 * Peak RSS: of `bptt train` (the built CLI) at the shape and thread count, a few steps in a child
 * process of its own (bench/memory.ts); "needs" is what parameters, gradients (with threads, the
 * workers' slices' own too), Adam's two moments and the chunk's activations take; "×needs" is
 * (peak − the peak of a bare Node process) / needs, the run's memory over what it must hold.
 * Threads: the engine training would use (createTrainingEngine): data-parallel over the batch
 * where a thread pays (chooseThreads), so a shape may run on fewer threads than asked for.
 */
import { kernelsByName, defaultKernels } from "../src/kernels/index.ts";
import type { Kernels } from "../src/kernels/types.ts";
import type { Batch } from "../src/model/batch.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { paramCount, trainingFlopsPerToken } from "../src/model/params.ts";
import { createTrainingEngine, defaultThreads } from "../src/model/threaded.ts";
import { cellOf } from "../src/cells/index.ts";
import { Rng } from "../src/rng.ts";
import { Optimizer } from "../src/train/optimizers.ts";
import { benchGemm, machineInfo, median, type GemmResult, type GemmShape } from "./lib.ts";
import { bareNodePeak, cliBuilt, MEMORY_STEPS, trainingPeak } from "./memory.ts";

/** A reference shape of DESIGN §4. */
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

interface Args {
  shapes: Shape[];
  kernels: Kernels[];
  threads: number[];
  json: boolean;
  quick: boolean;
  gemmOnly: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { shapes: [], kernels: [], threads: [], json: false, quick: false, gemmOnly: false };
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
        if (s === undefined) throw new Error(`--shape: expected S, M or L; received ${name}`);
        args.shapes.push(s);
      }
    } else if (a === "--kernels") {
      for (const name of value().split(",")) args.kernels.push(kernelsByName(name));
    } else if (a === "--threads") {
      for (const t of value().split(",")) {
        const n = Number(t);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--threads: expected integers ≥ 1; received ${t}`);
        args.threads.push(n);
      }
    } else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: npm run bench -- [--shape S,M,L] [--kernels portable,wasm] [--threads 1,2] [--json] [--quick] [--gemm]\n");
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  if (args.shapes.length === 0) args.shapes = [...SHAPES];
  if (args.kernels.length === 0) args.kernels = [defaultKernels()];
  if (args.threads.length === 0) args.threads = [...new Set([1, defaultThreads()])];
  return args;
}

/** Result of one (shape, kernels) measurement; the JSON line printed with --json. */
interface StepResult {
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
  gemm: GemmResult[];
  speedupVsPortable?: number;
  /** tokens/s over the same shape and kernels on one thread, in this run. */
  speedupVsOneThread?: number;
  machine: ReturnType<typeof machineInfo>;
}

/** The GEMMs one training step of a shape runs, as the layers call them. */
function gemmShapes(s: Shape): GemmShape[] {
  const { H, T, B } = s;
  return [
    { M: B, N: H, K: H, op: "NT", what: "recurrence h_{t−1} W_hᵀ (per step)" },
    { M: B, N: H, K: H, op: "NN", what: "BPTT dh̄_{t+1} W_h (per step)" },
    { M: T * B, N: V, K: H, op: "NT", what: "logits h W_oᵀ" },
    { M: H, N: H, K: T * B, op: "TN", what: "dW_h = Σ dh̄ h_{t−1}ᵀ" },
  ];
}

/** Time training steps of one shape with one kernel set and up to `threadsAsked` threads. */
async function benchStep(s: Shape, k: Kernels, threadsAsked: number, quick: boolean): Promise<StepResult> {
  const { H, T, B } = s;
  const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: H, vocabSize: V, bias: true };
  const P = paramCount(config);
  const rng = new Rng(42);
  // parameters and gradients in kernel memory, so that the WebAssembly engine copies nothing
  const params = k.allocate(P);
  const grads = k.allocate(P);
  initParams(params, config, rng);
  const engine = await createTrainingEngine(config, T, B, { kernels: k, threads: threadsAsked });
  const { threads } = engine;
  const optimizer = new Optimizer({ name: "adam", lr: 2e-3 }, P, k);
  const batches: Batch[] = [];
  for (let i = 0; i < 4; i++) {
    const inputs = new Int32Array(T * B), targets = new Int32Array(T * B);
    for (let j = 0; j < T * B; j++) {
      inputs[j] = rng.int(V);
      targets[j] = rng.int(V);
    }
    batches.push({ inputs, targets, T, B });
  }
  const h = new Float32Array(B * H);
  let stepNo = 0;
  const step = (): number => {
    const batch = batches[stepNo++ % batches.length];
    const t0 = performance.now();
    engine.lossAndGrads(params, grads, batch, stepNo > 1 ? h : undefined, 1 / (T * B));
    optimizer.step(params, grads);
    engine.finalState(h); // truncated BPTT: the state goes on to the next chunk
    return performance.now() - t0;
  };
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
  engine.dispose();
  k.free(params);
  k.free(grads);
  optimizer.dispose();
  // (the GEMMs run on one core: measured once per shape and kernels)
  const gemm = threads > 1 ? [] : gemmShapes(s).map((g) => benchGemm(k, g, quick ? 0.2 : 0.6));
  // params, grads, Adam m and v; activations hs, dhs, logits; with threads, the workers' slices' own gradients
  const needsMiB = (((4 + threads - 1) * P + cellOf(config.cell).layer.bufferFloats(T, B, H) + T * B * V) * 4) / 2 ** 20;
  return {
    shape: s.name, H, T, B, V, kernels: k.name, threads, threadsAsked, tokensPerSec, gflops: (tokensPerSec * trainingFlopsPerToken(config)) / 1e9,
    msPerStep, steps: times.length, needsMiB, gemm,
    machine: machineInfo(),
  };
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

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const m = machineInfo();
  const log = (line: string): void => {
    // with --json, stdout carries only the JSON lines; the human-readable text goes to stderr
    (args.json ? process.stderr : process.stdout).write(line + "\n");
  };
  log(`bptt bench — ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} ${m.platform}`);
  log(`kernels: ${args.kernels.map((k) => k.name).join(", ")}; threads: ${args.threads.join(", ")}${args.quick ? " (quick)" : ""}`);

  if (args.gemmOnly || !args.json) {
    log("\nGEMM micro-benchmark (C += op(A)·op(B), one core), GFLOP/s");
    log(`  ${"shape".padEnd(22)}${args.kernels.map((k) => k.name.padStart(10)).join("")}`);
    for (const g of CEILING_SHAPES) {
      const r = args.kernels.map((k) => benchGemm(k, g, args.quick ? 0.2 : 0.6));
      log(`  ${`${g.M}×${g.N}×${g.K} ${g.op}`.padEnd(22)}${r.map((x) => fmt(x.gflops, 2).padStart(10)).join("")}`);
    }
    if (args.gemmOnly) return;
  }

  const results: StepResult[] = [];
  const memory = { node: cliBuilt() ? bareNodePeak().peakMiB : undefined };
  if (memory.node === undefined) log("\n(no peak RSS: the CLI is not built; run npm run build)");
  for (const s of args.shapes) {
    for (const k of args.kernels) {
      for (const threads of args.threads) {
        // threads need the WebAssembly kernels' shared memory; and a shape that runs on one thread anyway is measured once
        if (threads > 1 && k.name !== "wasm") continue;
        const r = await benchStep(s, k, threads, args.quick);
        const same = (x: StepResult): boolean => x.shape === s.name && x.kernels === k.name;
        if (threads > 1 && r.threads === 1 && results.some((x) => same(x) && x.threads === 1)) continue;
        // memory: the CLI's run (WebAssembly kernels, its default) at this shape and thread count
        if (k.name === "wasm" && memory.node !== undefined) {
          r.nodeRssMiB = memory.node;
          r.peakRssMiB = trainingPeak(s, r.threads).peakMiB;
          r.memoryOverNeeds = (r.peakRssMiB - r.nodeRssMiB) / r.needsMiB;
        }
        const portable = results.find((x) => x.shape === s.name && x.kernels === "portable" && x.threads === 1);
        if (portable !== undefined && k.name !== "portable") r.speedupVsPortable = r.tokensPerSec / portable.tokensPerSec;
        const one = results.find((x) => same(x) && x.threads === 1);
        if (one !== undefined && r.threads > 1) r.speedupVsOneThread = r.tokensPerSec / one.tokensPerSec;
        results.push(r);
        if (args.json) process.stdout.write(JSON.stringify(r) + "\n");
      }
    }
  }
  if (args.json) return;

  log("\nTraining step: forward + full BPTT + Adam, V=65, tanh, 1 layer");
  log(
    `  ${"shape".padEnd(18)}${"kernels".padEnd(10)}${"threads".padStart(8)}${"tokens/s".padStart(12)}${"GFLOP/s".padStart(9)}` +
      `${"ms/step".padStart(10)}${"steps".padStart(7)}${"peak RSS".padStart(10)}${"needs".padStart(11)}${"×needs".padStart(8)}` +
      `${"ratio".padStart(8)}${"×1 thr".padStart(8)}`,
  );
  for (const r of results) {
    log(
      `  ${`${r.shape} H${r.H} T${r.T} B${r.B}`.padEnd(18)}${r.kernels.padEnd(10)}${String(r.threads).padStart(8)}${fmt(r.tokensPerSec).padStart(12)}` +
        `${fmt(r.gflops, 2).padStart(9)}${fmt(r.msPerStep, 2).padStart(10)}${String(r.steps).padStart(7)}` +
        `${(r.peakRssMiB === undefined ? "" : `${fmt(r.peakRssMiB)} MiB`).padStart(10)}${`${fmt(r.needsMiB, 1)} MiB`.padStart(11)}` +
        `${(r.memoryOverNeeds === undefined ? "" : `${fmt(r.memoryOverNeeds, 2)}×`).padStart(8)}` +
        `${(r.speedupVsPortable === undefined ? "" : `${fmt(r.speedupVsPortable, 1)}×`).padStart(8)}` +
        `${(r.speedupVsOneThread === undefined ? "" : `${fmt(r.speedupVsOneThread, 2)}×`).padStart(8)}`,
    );
  }
  log("\nGEMMs of the training step, GFLOP/s");
  for (const r of results) {
    for (const g of r.gemm) {
      log(`  ${r.shape} ${r.kernels.padEnd(9)} ${`${g.M}×${g.N}×${g.K} ${g.op}`.padEnd(18)} ${fmt(g.gflops, 2).padStart(7)}  ${g.what}`);
    }
  }
  log(
    `\nratio = tokens/s over the portable kernels' in this run; ×1 thr = over one thread's. A shape listed once ran on ` +
      `one thread only (more do not pay: chooseThreads). Peak RSS: \`bptt train\` at the shape, ${MEMORY_STEPS} steps in a process of its ` +
      `own (WebAssembly kernels); ×needs = (peak − ${memory.node === undefined ? "?" : fmt(memory.node)} MiB, a bare Node ` +
      `process's peak) / needs.`,
  );
}

await main();
