/**
 * `npm run bench:threads`: where a second thread pays. Times the training step (forward, BPTT,
 * Adam) with one thread (LmEngine) and with all cores (ThreadedLmEngine, forced, whatever
 * `chooseThreads` would say) over a grid of hidden sizes H and batch sizes B, and prints the
 * speedup next to what `chooseThreads` picks. The rule in src/model/threaded.ts was set from it.
 *
 *   npm run bench:threads                         H 32..1024 × B 2..64, T 50
 *   npm run bench:threads -- --H 256 --B 8,16,32  a smaller grid
 *   npm run bench:threads -- --threads 2 --T 25
 */
import { wasmKernels } from "../src/kernels/index.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { LmEngine, type TrainingEngine } from "../src/model/lm.ts";
import { paramCount } from "../src/model/params.ts";
import { chooseThreads, defaultThreads, ThreadedLmEngine, ThreadPool } from "../src/model/threaded.ts";
import { Rng } from "../src/rng.ts";
import { Optimizer } from "../src/train/optimizers.ts";
import { machineInfo, median } from "./lib.ts";

const V = 65;

function list(argv: readonly string[], flag: string, fallback: number[]): number[] {
  const i = argv.indexOf(flag);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined) throw new Error(`${flag} needs a value`);
  return v.split(",").map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected positive integers; received ${x}`);
    return n;
  });
}

/** Median milliseconds of one training step (after warm-up), over about `ms` of measuring. */
function timeStep(engine: TrainingEngine, config: ModelConfig, T: number, B: number, ms: number): number {
  const k = wasmKernels();
  const P = paramCount(config);
  const params = k.allocate(P), grads = k.allocate(P);
  const rng = new Rng(42);
  initParams(params, config, rng);
  const optimizer = new Optimizer({ name: "adam", lr: 2e-3 }, P, k);
  const inputs = new Int32Array(T * B), targets = new Int32Array(T * B);
  for (let j = 0; j < T * B; j++) {
    inputs[j] = rng.int(V);
    targets[j] = rng.int(V);
  }
  const batch = { inputs, targets, T, B };
  const h = new Float32Array(config.layers * B * config.hiddenSize);
  const step = (): number => {
    const t0 = performance.now();
    engine.lossAndGrads(params, grads, batch, h, 1 / (T * B));
    optimizer.step(params, grads);
    engine.finalState(h);
    return performance.now() - t0;
  };
  let spent = 0;
  for (let i = 0; i < 2 || spent < ms / 3; i++) spent += step();
  const times: number[] = [];
  for (spent = 0; times.length < 3 || spent < ms; ) {
    const t = step();
    times.push(t);
    spent += t;
  }
  k.free(params);
  k.free(grads);
  optimizer.dispose();
  return median(times);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const Hs = list(argv, "--H", [32, 64, 128, 256, 512, 1024]);
  const Bs = list(argv, "--B", [2, 4, 8, 16, 32, 64]);
  const [T] = list(argv, "--T", [50]);
  const [threads] = list(argv, "--threads", [Math.max(2, defaultThreads())]);
  const m = machineInfo();
  console.log(`bptt bench:threads — ${m.cpu}, ${m.cores} cores, Node ${m.node}; T ${T}, V ${V}, tanh, 1 layer`);
  console.log(`speedup of ${threads} threads over 1 (ms per step, 1 thread → ${threads} threads); * = chooseThreads picks > 1\n`);
  const pool = await ThreadPool.create({ threads, kernels: wasmKernels() });
  console.log(`${"H \\ B".padEnd(7)}${Bs.map((b) => String(b).padStart(24)).join("")}`);
  for (const H of Hs) {
    const config: ModelConfig = { cell: "rnn", nonlinearity: "tanh", layers: 1, hiddenSize: H, vocabSize: V, bias: true };
    const ms = Math.min(2000, Math.max(300, H * 2));
    const cells: string[] = [];
    for (const B of Bs) {
      const single = new LmEngine(config, wasmKernels());
      const one = timeStep(single, config, T, B, ms);
      single.dispose();
      const multi = new ThreadedLmEngine(config, pool);
      const many = timeStep(multi, config, T, B, ms);
      multi.dispose();
      const mark = chooseThreads(config, T, B, threads) > 1 ? "*" : " ";
      cells.push(`${(one / many).toFixed(2)}×${mark} (${one.toFixed(2)}→${many.toFixed(2)})`.padStart(24));
    }
    console.log(`${String(H).padEnd(7)}${cells.join("")}`);
  }
  pool.terminate();
}

await main();
