/**
 * The playground's training worker: runs the library's own `train` loop (src/train/trainer.ts)
 * off the page's thread, and reports steps, validation, samples and the BPTT diagnostics that the
 * model's cell computes (`engine.diagnostics()`, src/cells/<name>/view.ts). No math lives here.
 *
 * States: idle (no model) → running ⇄ paused; a loaded checkpoint is "paused" at its step.
 * Pausing keeps a checkpoint of everything the next step depends on (the trainer hands one to
 * `save` after every step), and resuming passes it back as `resume`: a paused and resumed run
 * is bit for bit the run that was never paused (at the same number of threads).
 *
 * Kernels and threads: the package's browser loader (`loadBrowserKernels`) fetches the WebAssembly
 * kernels (their FMA build where the browser has relaxed SIMD), or says why the portable ones run,
 * and, where the page is cross-origin isolated and the browser has 2 or more cores, registers
 * nested workers running "bptt/thread-worker.js" as the engines' thread host, so the trainer's
 * engine runs data-parallel as in the CLI. This worker owns the engine and blocks in Atomics.wait
 * during a step, which a worker may; the page's thread never does. A run on several threads has no
 * `inspect` (its engine keeps no activations): the gradient views then come from a one-thread pass
 * over the next step's chunk (the package's `nextChunk`), every few steps.
 */
import {
  BpttError, buildVocab, CheckpointError, checkpointFromBytes, checkpointOptions, checkpointStep, checkpointToBytes, chooseThreads,
  cloneCheckpoint, ConfigError, DataError, DivergenceError, encode, LmEngine, loadBrowserKernels, MIN_FLOPS_PER_THREAD, nextChunk,
  paramCount, pick, portableKernels, sample, ShapeError, ThreadError, train, TRAIN_DEFAULTS, trainingFlopsPerToken, trainingIds,
  vocabFromSymbols, type Checkpoint, type Kernels, type LanguageModel, type TokenIds, type TrainingEngine, type TrainOptions,
} from "bptt";
import wasmFmaUrl from "bptt/kernels-fma.wasm?url";
import wasmUrl from "bptt/kernels.wasm?url";
import ThreadWorker from "bptt/thread-worker.js?worker";
import { MODEL_SETTING_KEYS, shownSettings } from "./settings.ts";
import {
  parseCommand, type Command, type LayerDiag, type ModelSummary, type Settings, type StepPoint, type WorkerEvent,
} from "./protocol.ts";

/** Longest wait before step points are posted to the page. */
const FLUSH_MS = 100;
/** Shortest window of the "tokens/s now" measurement. */
const RATE_MS = 1000;
/** Diagnostics may take at most this share of the training time (they run every step when cheap). */
const DIAG_SHARE = 0.05;

const post = (event: WorkerEvent, transfer: Transferable[] = []): void => self.postMessage(event, { transfer });

let kernels: Kernels = portableKernels;
/** Threads training may use here (1, or the cores where nested workers start), and why 1. */
let threadsHere = { threads: 1, note: "" };
/** The model and its training state: a paused run, a loaded checkpoint, or the last step of a running one. */
let current: Checkpoint | undefined;
let source = "";
let running = false;
let pauseRequested = false;
let sampleTemperature = 1;
let sampleTopP = 1;
const ready: Promise<void> = loadKernels(); // after the state above: it may post the state at once

self.onmessage = (e: MessageEvent<unknown>): void => {
  const command = parseCommand(e.data);
  if (command === undefined) {
    post({ type: "error", name: "ProtocolError", message: `the worker received an unknown message: ${JSON.stringify(e.data)?.slice(0, 200)}` });
    return;
  }
  void ready.then(() => handle(command)).catch(report);
};

async function handle(command: Command): Promise<void> {
  switch (command.type) {
    case "train":
      if (!running) await runTraining(command.settings, command.text, command.steps);
      return;
    case "pause":
      if (running) pauseRequested = true;
      return;
    case "reset":
      if (running) pauseRequested = true;
      current = undefined;
      postState();
      return;
    case "sampling":
      sampleTemperature = command.temperature;
      sampleTopP = command.topP;
      return;
    case "sample": {
      const model = requireModel();
      const text = sample(model, {
        length: command.length, temperature: command.temperature, topP: command.topP, skipUnknown: true, seed: Date.now() % 1e9, kernels: portableKernels,
        ...(command.prime === "" ? {} : { prime: command.prime }), // "" = the default prime (a newline)
      });
      post({ type: "sample", step: stepOf(current), temperature: command.temperature, topP: command.topP, text, requested: true });
      return;
    }
    case "hidden":
      postHidden(requireModel(), command.layer, command.state, command.passage);
      return;
    case "save": {
      const ckpt = requireCheckpoint();
      const bytes = checkpointToBytes(ckpt);
      post({ type: "checkpoint", bytes, step: stepOf(ckpt) }, [bytes.buffer]);
      return;
    }
    case "load": {
      if (running) throw new BpttError("pause training before loading a checkpoint");
      current = checkpointFromBytes(command.bytes, command.name);
      source = command.name;
      postState();
      return;
    }
  }
}

/**
 * One training segment: from `current` (or a new model) until a pause, a reset or `steps` more steps.
 * @param steps 1 to step once; undefined to run until paused
 */
async function runTraining(settings: Settings, text: string, steps: number | undefined): Promise<void> {
  running = true;
  pauseRequested = false;
  const resume = current;
  const stopAt = steps === undefined ? undefined : stepOf(resume) + steps;
  if (resume === undefined) source = "trained here";
  const segment = trackAllocations(kernels);
  const plan = planThreads(settings, resume, text, steps);
  // on several threads the trainer's engine keeps no activations: the gradient views get their own one-thread pass
  const side = plan.threads > 1 ? diagnosticPass(segment.kernels, text) : undefined;
  const options: TrainOptions = {
    // Every setting of the form, for the library to apply by the option table's scopes: a resumed
    // run keeps its model and the settings fixed for its run (the page shows them, locked, so they
    // equal the checkpoint's; for a model without training state, from `bptt init`, the run's are
    // the form's), and takes the others anew (it keeps its lrSchedule, which the page does not set).
    ...settings,
    text,
    kernels: segment.kernels,
    threads: plan.threads,
    sampleEvery: 0, // samples are drawn here, at the slider's temperature
    saveEveryStep: true, // every step's state, so that a pause loses nothing (a copy of P floats per step)
    validateAtEnd: false, // a pause or a single step should not cost a pass over the held-out text
    ...(resume === undefined ? {} : { resume }),
  };
  let points: StepPoint[] = [];
  let lastFlush = performance.now();
  let averageTokensPerSec = 0;
  let epoch = 0;
  let diagDue = 0;
  /**
   * Run `diagnose` for a step's diagnostics: every step while they are cheap; otherwise every k
   * steps, k chosen to keep them under DIAG_SHARE of the training time (for one thread B²·H·T per
   * layer against the step's ~6·(H² + V·H)·T·B; on several, a one-thread pass besides).
   */
  const diagnoseAt = (step: number, diagnose: () => void): void => {
    if (stopAt === undefined && step < diagDue) return;
    const t0 = performance.now();
    diagnose();
    const cost = performance.now() - t0;
    const stepMs = (t0 - segmentStart) / Math.max(1, step - firstStep);
    diagDue = step + Math.max(1, Math.ceil(cost / (DIAG_SHARE * Math.max(stepMs, 1e-3))));
  };
  // tokens/s "now": over windows of at least RATE_MS, from the end of the segment's first step
  // (before it lies the run's set-up: encoding the text, allocating)
  let rateStart = NaN;
  let rateTokens = 0;
  const flush = (): void => {
    if (points.length === 0) return;
    post({ type: "steps", points, averageTokensPerSec, epoch });
    points = [];
    lastFlush = performance.now();
  };
  const segmentStart = performance.now();
  const firstStep = stepOf(resume);
  postState("running");
  try {
    await train(options, {
      onStep(e) {
        const now = performance.now();
        if (e.step === firstStep + 1) post({ type: "threads", threads: e.threads, note: e.threads > 1 ? "" : plan.note });
        const tokens = e.tokensPerSec * e.elapsed; // = (steps of this segment)·T·B
        let rate = NaN;
        if (Number.isNaN(rateStart) || now - rateStart >= RATE_MS) {
          if (!Number.isNaN(rateStart)) rate = ((tokens - rateTokens) * 1000) / (now - rateStart);
          rateStart = now;
          rateTokens = tokens;
        }
        averageTokensPerSec = e.tokensPerSec;
        epoch = e.epoch;
        points.push({ step: e.step, loss: e.loss, smoothLoss: e.smoothLoss, gradNorm: e.gradNorm, tokensPerSec: rate });
        if (e.step === firstStep + 1 || now - lastFlush > FLUSH_MS) flush();
      },
      onEval(e) {
        flush();
        post({ type: "eval", step: e.step, valLoss: e.valLoss });
      },
      save(ckpt) {
        const first = current === undefined;
        current = cloneCheckpoint(ckpt); // the trainer's arrays change with the next step
        if (first) postState("running"); // a new run's model exists from its first step on
        // the next step's diagnostics, before it runs (unless it will not run in this segment)
        if (side !== undefined && !pauseRequested) {
          side.prepare(ckpt); // encodes the text once per segment: not part of the measured cost
          diagnoseAt(stepOf(current) + 1, () => side.run(ckpt));
        }
      },
      onCheckpoint(e) {
        if (settings.sampleEvery > 0 && e.step % settings.sampleEvery === 0 && current !== undefined) {
          const text = sample(modelOf(current), {
            length: TRAIN_DEFAULTS.sampleLength, temperature: sampleTemperature, topP: sampleTopP, seed: settings.seed + e.step, kernels: portableKernels,
          });
          post({ type: "sample", step: e.step, temperature: sampleTemperature, topP: sampleTopP, text, requested: false });
        }
      },
      // diagnostics read one engine's activations: given `inspect`, the trainer trains on one thread
      ...(side === undefined ? { inspect: (engine: TrainingEngine, _grads: Float32Array, step: number) => diagnoseAt(step, () => postDiagnostics(engine, step)) } : {}),
      shouldStop: () => pauseRequested || (stopAt !== undefined && stepOf(current) >= stopAt),
    });
  } catch (e) {
    report(e);
  } finally {
    if (current !== undefined) flush(); // after a reset, the page has cleared its plots: nothing more to show
    side?.dispose();
    segment.freeAll();
    running = false;
    pauseRequested = false;
    postState();
  }
}

/**
 * How many threads a segment trains on, and why one when more were asked for: the setting, where
 * nested workers run here, for a run of more than one step (a single step runs on one thread, with
 * `inspect`: its views show that very step), and `chooseThreads` of it, the CLI's rule.
 */
function planThreads(settings: Settings, resume: Checkpoint | undefined, text: string, steps: number | undefined): { threads: number; note: string } {
  if (settings.threads === 1) return { threads: 1, note: "as set" };
  if (threadsHere.threads === 1) return { threads: 1, note: threadsHere.note };
  if (steps !== undefined) return { threads: 1, note: "a single step runs on one thread" };
  const config = resume?.config ?? { ...pick(settings, MODEL_SETTING_KEYS), vocabSize: buildVocab(text).symbols.length };
  const n = chooseThreads(config, settings.seqLength, settings.batchSize, settings.threads);
  if (n > 1) return { threads: n, note: "" };
  const mflops = (settings.seqLength * settings.batchSize * trainingFlopsPerToken(config)) / 1e6;
  return {
    threads: 1,
    note: `a second thread does not pay for a step of ${mflops.toFixed(1)} MFLOP (from ${(2 * MIN_FLOPS_PER_THREAD) / 1e6} MFLOP on, and at least 2 sequences)`,
  };
}

/**
 * The gradient views' own pass on a run that trains on several threads: the next step's chunk
 * (`nextChunk`, src/train/next-chunk.ts) through a one-thread engine that keeps its activations, with the step's
 * parameters; its diagnostics are those `inspect` would give at that step.
 */
function diagnosticPass(k: Kernels, text: string): { prepare(ckpt: Checkpoint): void; run(ckpt: Checkpoint): void; dispose(): void } {
  let engine: LmEngine | undefined;
  let grads: Float32Array | undefined;
  let train: TokenIds | undefined;
  return {
    prepare(ckpt) {
      train ??= trainingIds(ckpt, text);
      engine ??= new LmEngine(ckpt.config, k, { diagnostics: true });
      grads ??= k.allocate(paramCount(ckpt.config));
    },
    run(ckpt) {
      if (engine === undefined || grads === undefined || train === undefined) return;
      const chunk = nextChunk(ckpt, train);
      engine.lossAndGrads(ckpt.params, grads, chunk.batch, chunk.state0, chunk.scale, chunk.dropout);
      postDiagnostics(engine, chunk.step);
    },
    dispose() {
      engine?.dispose();
      if (grads !== undefined) k.free(grads);
    },
  };
}

/** Let the cell compute the chunk's diagnostics from the engine's buffers, and post float32 copies of them. */
function postDiagnostics(engine: TrainingEngine, step: number): void {
  const diagnostics = engine.diagnostics();
  if (diagnostics === undefined) return;
  const layers: LayerDiag[] = diagnostics.map((d) => ({
    series: d.series.map((s) => ({ key: s.key, label: s.label, values: Float32Array.from(s.values) })),
    saturation: d.saturation.map((g) => ({ gate: g.gate, low: g.low, high: g.high })),
  }));
  post({ type: "diag", step, layers }, layers.flatMap((l) => l.series.map((s) => s.values.buffer)));
}

/** Run the model over a passage (one sequence, from a zero state) and post one layer's state `state` (h, or c) for every t. */
function postHidden(model: LanguageModel, layer: number, state: number, passage: string): void {
  const { config } = model;
  if (layer >= config.layers) throw new BpttError(`layer must be below ${config.layers}; received ${layer}`);
  const vocab = vocabFromSymbols(model.vocab ?? []);
  const ids = Int32Array.from(encode(vocab, passage, { skipUnknown: true }));
  if (ids.length === 0) throw new BpttError("none of the passage's characters are in the model's vocabulary");
  const T = ids.length;
  const H = config.hiddenSize;
  const engine = new LmEngine(config, portableKernels);
  engine.loss(model.params, { inputs: ids, targets: new Int32Array(T), T, B: 1 });
  const activations = engine.stateOverTime(layer, state, 0); // state_1..state_T, a copy (ShapeError for a bad index)
  const chars = Array.from(ids, (id) => model.vocab?.[id] ?? "?");
  post({ type: "hidden", layer, state, chars, H, activations }, [activations.buffer]);
}

async function loadKernels(): Promise<void> {
  const loaded = await loadBrowserKernels({ wasmUrl, wasmFmaUrl, threadWorker: () => new ThreadWorker() });
  kernels = loaded.kernels;
  threadsHere = { threads: loaded.threads, note: loaded.oneThreadReason ?? "" };
  post({ type: "ready", kernels: kernels.name, note: loaded.portableReason ?? "", threads: threadsHere.threads, threadsNote: threadsHere.note });
  postState();
}

/**
 * The kernels of one training segment, recording what they allocate: `train()` does not dispose its
 * engine, and WebAssembly memory is not garbage-collected, so the segment's arrays are freed when it ends.
 */
function trackAllocations(k: Kernels): { kernels: Kernels; freeAll(): void } {
  const live = new Set<Float32Array>();
  const tracked: Kernels = {
    ...k,
    allocate(length) {
      const a = k.allocate(length);
      live.add(a);
      return a;
    },
    free(a) {
      live.delete(a);
      k.free(a);
    },
  };
  return {
    kernels: tracked,
    freeAll() {
      for (const a of live) k.free(a);
      live.clear();
    },
  };
}

function modelOf(ckpt: Checkpoint): LanguageModel {
  return { config: ckpt.config, vocab: ckpt.vocab, params: ckpt.params };
}

function requireCheckpoint(): Checkpoint {
  if (current === undefined) throw new BpttError("there is no model yet: train one or load a checkpoint");
  return current;
}

function requireModel(): LanguageModel {
  return modelOf(requireCheckpoint());
}

/** The training step a checkpoint was saved at (0 for a model without training state). */
function stepOf(ckpt: Checkpoint | undefined): number {
  return (ckpt === undefined ? undefined : checkpointStep(ckpt)) ?? 0;
}

function postState(state?: "running"): void {
  let model: ModelSummary | undefined;
  if (current !== undefined) {
    model = { config: current.config, step: stepOf(current), run: shownSettings(checkpointOptions(current)), source };
  }
  post({ type: "state", state: state ?? (running ? "running" : current === undefined ? "idle" : "paused"), model });
}

/** Errors become messages: bptt's own (BpttError: bad settings, bad file) with their class name. */
function report(e: unknown): void {
  if (e instanceof BpttError) post({ type: "error", name: errorName(e), message: e.message });
  else post({ type: "error", name: "Error", message: e instanceof Error ? `${e.message} (a bug: please report it)` : String(e) });
}

/** The class name, by instanceof: a minifier may rename the classes (and so `e.name`). */
function errorName(e: BpttError): string {
  if (e instanceof ConfigError) return "ConfigError";
  if (e instanceof DataError) return "DataError";
  if (e instanceof CheckpointError) return "CheckpointError";
  if (e instanceof ShapeError) return "ShapeError";
  if (e instanceof DivergenceError) return "DivergenceError";
  if (e instanceof ThreadError) return "ThreadError";
  return "BpttError";
}
