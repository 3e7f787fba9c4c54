/**
 * Optimizers over one flat parameter array and one flat gradient array of the same length
 * (docs/architecture.md, Parameters: params live in one Float32Array, so each update is one fused loop).
 *
 * Each update follows PyTorch's torch.optim formulation (no dampening), so hyperparameters carry
 * over from PyTorch code unchanged. t is the 1-based step number, g the gradient, p the
 * parameter; all state starts at zero.
 *
 *   O1  sgd       p −= lr·g
 *   O2  momentum  b = μ·b + g ;               p −= lr·b            (classical, not Nesterov)
 *   O3  adagrad   s += g² ;                   p −= lr·g / (√s + ε)
 *   O4  rmsprop   v = α·v + (1−α)·g² ;        p −= lr·g / (√v + ε)
 *   O5  adam      m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g²
 *                 p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 * Weight decay λ, on the parameters the optimizer is told to decay (the trainer: weights, not biases):
 *   O6  adam          p −= lr·λ·p before O5: decoupled, PyTorch's AdamW (Loshchilov & Hutter 2019)
 *   O7  the others    g += λ·p before O1–O4: L2 regularisation, PyTorch's weight_decay
 *
 * Arithmetic is float64 (JS numbers); parameters and state are stored as float32. Nothing is
 * kept between steps except the float32 state arrays and the integer step count, so exporting
 * them and loading them into a new Optimizer resumes bit for bit.
 *
 * Adam, the default, runs as a kernel (Kernels.adamUpdate): given the WebAssembly kernels and
 * arrays in their memory, a SIMD loop ~3× faster than the portable one with the same bits (the
 * portable loop was 35–50 % of a batch-1 step, shape S); the state then lives in kernel memory
 * (`dispose()`). The other rules are plain loops below.
 */
import { ConfigError, ShapeError } from "../errors.ts";
import { allocateOwned, freeOwned, ownKernelMemory, type OwnedMemory } from "../kernels/owned.ts";
import { portableKernels } from "../kernels/portable.ts";
import type { Kernels } from "../kernels/types.ts";
import { tableDefaults, type OptionTable } from "../option-table.ts";

/** Name of an update rule (the CLI's --optimizer). */
export type OptimizerName = "sgd" | "momentum" | "adagrad" | "rmsprop" | "adam";

/** All optimizers, in the order shown to users. */
export const OPTIMIZERS: readonly OptimizerName[] = ["sgd", "momentum", "adagrad", "rmsprop", "adam"];

/**
 * Options of an optimizer. Fields that do not apply to the chosen rule are ignored, but still
 * range-checked when given.
 */
export interface OptimizerOptions {
  /** Update rule. */
  readonly name: OptimizerName;
  /** Learning rate, finite and > 0. No default here: see `defaultLearningRate(name)`. */
  readonly lr: number;
  /** Momentum μ of "momentum", in [0, 1). Default 0.9 (the usual choice; effective step lr/(1−μ) = 10·lr). */
  readonly momentum?: number;
  /** β1 of "adam" (decay of the first moment), in [0, 1). Default 0.9 (PyTorch). */
  readonly beta1?: number;
  /** β2 of "adam" (decay of the second moment), in [0, 1). Default 0.999 (PyTorch). */
  readonly beta2?: number;
  /**
   * Smoothing α of "rmsprop" (decay of the mean square), in [0, 1). Default 0.99 (PyTorch's
   * RMSprop); karpathy's char-rnn used 0.95, pass `alpha: 0.95` to reproduce it.
   */
  readonly alpha?: number;
  /**
   * ε added to the denominator of adagrad, rmsprop and adam, finite and > 0.
   * Default 1e-10 for adagrad, 1e-8 for rmsprop and adam (PyTorch's defaults).
   */
  readonly eps?: number;
  /** Weight decay λ ≥ 0 (O6 for adam, O7 for the others). Default 0 (none). */
  readonly weightDecay?: number;
}

/** Every hyperparameter of an optimizer, defaults filled in (what a checkpoint may record). */
export interface ResolvedOptimizerOptions {
  /** Update rule. */
  readonly name: OptimizerName;
  /** Learning rate used when `step` is not given one. */
  readonly lr: number;
  /** μ of "momentum". */
  readonly momentum: number;
  /** β1 of "adam". */
  readonly beta1: number;
  /** β2 of "adam". */
  readonly beta2: number;
  /** α of "rmsprop". */
  readonly alpha: number;
  /** ε of adagrad, rmsprop and adam. */
  readonly eps: number;
  /** Weight decay λ (O6, O7). */
  readonly weightDecay: number;
}

/**
 * Default learning rates for a character-level RNN whose loss is the mean over tokens E/(B·T):
 * - adam 2e-3: torch-rnn's default (jcjohnson/torch-rnn, train.lua);
 * - rmsprop 2e-3: karpathy's char-rnn default;
 * - adagrad 0.1: min-char-rnn's; adagrad divides by √Σg², so the value does not depend on the
 *   loss being a sum (min-char-rnn) or a mean (here);
 * - sgd 0.1: a conservative rate for a mean loss with gradient clipping;
 * - momentum 0.01: sgd's rate divided by 1/(1−μ) = 10, the same effective step at μ = 0.9.
 */
const DEFAULT_LR: Readonly<Record<OptimizerName, number>> = {
  sgd: 0.1,
  momentum: 0.01,
  adagrad: 0.1,
  rmsprop: 2e-3,
  adam: 2e-3,
};

/** State arrays of each rule, named after PyTorch's optimizer state (distinct across rules). */
const STATE_NAMES: Readonly<Record<OptimizerName, readonly string[]>> = {
  sgd: [],
  momentum: ["optim.momentum_buffer"],
  adagrad: ["optim.sum"],
  rmsprop: ["optim.square_avg"],
  adam: ["optim.exp_avg", "optim.exp_avg_sq"],
};

/** Prefix of every optimizer state tensor name. */
const STATE_PREFIX = "optim.";

/**
 * A sensible default learning rate for a char-RNN trained on the mean loss per token.
 * @param name update rule
 * @returns adam 2e-3, rmsprop 2e-3, adagrad 0.1, momentum 0.01, sgd 0.1
 */
export function defaultLearningRate(name: OptimizerName): number {
  checkName(name);
  return DEFAULT_LR[name];
}

/**
 * Check options and fill in the defaults.
 * @param options optimizer options
 * @returns every hyperparameter, defaults filled in
 * @throws ConfigError naming the first option out of range
 */
export function resolveOptimizerOptions(options: OptimizerOptions): ResolvedOptimizerOptions {
  const name = checkName(options.name);
  const lr = options.lr;
  if (!(Number.isFinite(lr) && lr > 0)) {
    throw new ConfigError(`optimizer option lr: expected a finite number > 0; received ${String(lr)}`);
  }
  const momentum = unitInterval(options.momentum, 0.9, "momentum");
  const beta1 = unitInterval(options.beta1, 0.9, "beta1");
  const beta2 = unitInterval(options.beta2, 0.999, "beta2");
  const alpha = unitInterval(options.alpha, 0.99, "alpha");
  const eps = options.eps ?? (name === "adagrad" ? 1e-10 : 1e-8);
  if (!(Number.isFinite(eps) && eps > 0)) {
    throw new ConfigError(`optimizer option eps: expected a finite number > 0; received ${String(eps)}`);
  }
  const weightDecay = options.weightDecay ?? 0;
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) {
    throw new ConfigError(`optimizer option weightDecay: expected a finite number ≥ 0; received ${String(weightDecay)}`);
  }
  return { name, lr, momentum, beta1, beta2, alpha, eps, weightDecay };
}

/** A range [from, to) of indices into the flat parameter array. */
export type IndexRange = readonly [from: number, to: number];

/** An update rule with its state (moment estimates, step count), kept across calls. */
export class Optimizer {
  /** Hyperparameters, defaults filled in. */
  readonly options: ResolvedOptimizerOptions;
  /** Length of the parameter, gradient and state arrays. */
  readonly size: number;
  /** Where the state lives and Adam's update runs. */
  readonly kernels: Kernels;
  // State arrays in the order of STATE_NAMES[name]; a rule uses the first 0, 1 or 2 of them.
  private readonly s0: Float32Array;
  private readonly s1: Float32Array;
  private t = 0;
  private readonly owned: OwnedMemory;
  private readonly decayed: readonly IndexRange[];

  /**
   * @param options update rule and hyperparameters
   * @param size number of parameters (length of the flat arrays passed to `step`)
   * @param kernels where the state lives and Adam's update runs; default the portable kernels.
   *   With the WebAssembly kernels, pass parameters and gradients from `kernels.allocate` too
   *   (others work, at the portable speed), and call `dispose()` when done.
   * @param decayed the parameters weight decay applies to, as index ranges; default all of them
   * @throws ConfigError when an option is out of range, size is not a non-negative integer, or a range lies outside [0, size)
   */
  constructor(options: OptimizerOptions, size: number, kernels: Kernels = portableKernels, decayed?: readonly IndexRange[]) {
    this.options = resolveOptimizerOptions(options);
    if (!(Number.isSafeInteger(size) && size >= 0)) {
      throw new ConfigError(`optimizer size: expected a non-negative integer; received ${String(size)}`);
    }
    this.decayed = decayed ?? [[0, size]];
    for (const [from, to] of this.decayed) {
      if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && from <= to && to <= size)) {
        throw new ConfigError(`optimizer decayed range [${from}, ${to}): expected 0 ≤ from ≤ to ≤ ${size}`);
      }
    }
    this.size = size;
    this.kernels = kernels;
    this.owned = ownKernelMemory(this, kernels);
    const n = STATE_NAMES[this.options.name].length;
    this.s0 = allocateOwned(this.owned, n >= 1 ? size : 0);
    this.s1 = allocateOwned(this.owned, n >= 2 ? size : 0);
  }

  /**
   * Give the state's kernel memory back (WebAssembly memory is not garbage-collected; an optimizer
   * collected without it frees it eventually). The optimizer cannot be used afterwards.
   */
  dispose(): void {
    freeOwned(this.owned);
  }

  /** Number of updates taken so far (t of O5 after the last step). */
  get stepCount(): number {
    return this.t;
  }

  /**
   * Apply one update in place: one fused loop over all parameters, no allocation.
   * @param params parameters, length `size`; updated in place
   * @param grads gradients, length `size`; read only, except that L2 weight decay (O7: every rule
   *   but adam, with weightDecay > 0) adds λ·p into it on the decayed ranges first
   * @param lr learning rate for this step (from a schedule), finite and ≥ 0; default `options.lr`
   * @throws ShapeError when a length differs from `size`; ConfigError when lr is out of range
   */
  step(params: Float32Array, grads: Float32Array, lr: number = this.options.lr): void {
    const n = this.size;
    if (params.length !== n || grads.length !== n) {
      throw new ShapeError(
        `optimizer step: expected params and grads of length ${n}; received ${params.length} and ${grads.length}`,
      );
    }
    if (!(Number.isFinite(lr) && lr >= 0)) {
      throw new ConfigError(`optimizer step lr: expected a finite number ≥ 0; received ${String(lr)}`);
    }
    this.t++;
    const o = this.options;
    if (o.weightDecay > 0) {
      for (const [from, to] of this.decayed) {
        if (o.name === "adam") decoupledDecay(params, lr * o.weightDecay, from, to);
        else l2Decay(grads, params, o.weightDecay, from, to);
      }
    }
    switch (o.name) {
      case "sgd":
        sgdUpdate(params, grads, lr, n);
        break;
      case "momentum":
        momentumUpdate(params, this.s0, grads, lr, o.momentum, n);
        break;
      case "adagrad":
        adagradUpdate(params, this.s0, grads, lr, o.eps, n);
        break;
      case "rmsprop":
        rmspropUpdate(params, this.s0, grads, lr, o.alpha, o.eps, n);
        break;
      case "adam": {
        const bc1 = 1 - Math.pow(o.beta1, this.t);
        const bc2 = 1 - Math.pow(o.beta2, this.t);
        this.kernels.adamUpdate(params, this.s0, this.s1, grads, n, lr / bc1, Math.sqrt(bc2), o.beta1, o.beta2, o.eps);
        break;
      }
    }
  }

  /**
   * The state to save for an exact resume (the step count is saved separately).
   * @returns copies of the float32 state arrays with their names (empty for sgd), e.g.
   *   [["optim.exp_avg", m], ["optim.exp_avg_sq", v]] for adam
   */
  stateTensors(): [string, Float32Array][] {
    return this.stateViews().map(([name, a]): [string, Float32Array] => [name, a.slice()]);
  }

  /**
   * As `stateTensors`, without the copies: the optimizer's own arrays (in kernel memory), which
   * the next `step` changes and `dispose` frees. For writing a checkpoint at once.
   * @returns the state arrays with their names
   */
  stateViews(): [string, Float32Array][] {
    const names = STATE_NAMES[this.options.name];
    const arrays = [this.s0, this.s1];
    return names.map((name, i): [string, Float32Array] => [name, arrays[i]]);
  }

  /**
   * Restore state saved by `stateTensors` (copied, not aliased).
   * @param tensors named tensors, e.g. all tensors of a checkpoint; names outside "optim." are ignored
   * @param stepCount `stepCount` at the time of saving, a non-negative integer
   * @throws ConfigError when a tensor is missing, has the wrong length, belongs to another
   *   optimizer, or stepCount is not a non-negative integer
   */
  loadState(tensors: ReadonlyMap<string, Float32Array>, stepCount: number): void {
    const name = this.options.name;
    const wanted = STATE_NAMES[name];
    const hint = (): string => {
      const saved = guessOptimizer(tensors);
      return saved === undefined || saved === name ? "" : ` (state saved with --optimizer ${saved}?)`;
    };
    if (!(Number.isSafeInteger(stepCount) && stepCount >= 0)) {
      throw new ConfigError(`optimizer stepCount: expected a non-negative integer; received ${String(stepCount)}`);
    }
    for (const key of tensors.keys()) {
      if (key.startsWith(STATE_PREFIX) && !wanted.includes(key)) {
        throw new ConfigError(
          `optimizer state for ${name}: expected ${listOrNone(wanted)}; received unexpected tensor ${key}${hint()}`,
        );
      }
    }
    const arrays = [this.s0, this.s1];
    wanted.forEach((key, i) => {
      const src = tensors.get(key);
      if (src === undefined) {
        throw new ConfigError(`optimizer state for ${name}: expected tensor ${key}; received none${hint()}`);
      }
      if (src.length !== this.size) {
        throw new ConfigError(
          `optimizer state ${key}: expected ${this.size} values (one per parameter); received ${src.length} (state saved for another model size?)`,
        );
      }
      arrays[i].set(src);
    });
    this.t = stepCount;
  }
}

// ---------------------------------------------------------------------------------------------
// Update kernels: pure (out, ...in, dims), no allocation. `p` and the state are updated in place.

/** O1 over n values. */
function sgdUpdate(p: Float32Array, g: Float32Array, lr: number, n: number): void {
  // O1  p −= lr·g
  for (let i = 0; i < n; i++) p[i] -= lr * g[i];
}

/** O2 over n values; b is the momentum buffer. */
function momentumUpdate(p: Float32Array, b: Float32Array, g: Float32Array, lr: number, mu: number, n: number): void {
  for (let i = 0; i < n; i++) {
    // O2  b = μ·b + g ;  p −= lr·b
    const bi = (b[i] = mu * b[i] + g[i]);
    p[i] -= lr * bi;
  }
}

/** O3 over n values; s is the running sum of squares. */
function adagradUpdate(p: Float32Array, s: Float32Array, g: Float32Array, lr: number, eps: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    // O3  s += g² ;  p −= lr·g / (√s + ε)
    const si = (s[i] = s[i] + gi * gi);
    p[i] -= (lr * gi) / (Math.sqrt(si) + eps);
  }
}

/** O4 over n values; v is the running mean square. */
function rmspropUpdate(
  p: Float32Array,
  v: Float32Array,
  g: Float32Array,
  lr: number,
  alpha: number,
  eps: number,
  n: number,
): void {
  const oneMinusAlpha = 1 - alpha;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    // O4  v = α·v + (1−α)·g² ;  p −= lr·g / (√v + ε)
    const vi = (v[i] = alpha * v[i] + oneMinusAlpha * gi * gi);
    p[i] -= (lr * gi) / (Math.sqrt(vi) + eps);
  }
}

// O5 (adam) is Kernels.adamUpdate: src/kernels/portable.ts and the WebAssembly SIMD kernel.

/** O6 over [from, to): decoupled weight decay, p −= (lr·λ)·p. */
function decoupledDecay(p: Float32Array, lrTimesDecay: number, from: number, to: number): void {
  // O6  p −= lr·λ·p   (as PyTorch's AdamW: p ← p·(1 − lr·λ))
  const keep = 1 - lrTimesDecay;
  for (let i = from; i < to; i++) p[i] *= keep;
}

/** O7 over [from, to): L2 regularisation, g += λ·p. */
function l2Decay(g: Float32Array, p: Float32Array, decay: number, from: number, to: number): void {
  // O7  g += λ·p
  for (let i = from; i < to; i++) g[i] += decay * p[i];
}

// ---------------------------------------------------------------------------------------------
// Helpers

function checkName(name: OptimizerName): OptimizerName {
  if (!OPTIMIZERS.includes(name)) {
    throw new ConfigError(`optimizer name: expected one of ${OPTIMIZERS.join(", ")}; received ${JSON.stringify(name)}`);
  }
  return name;
}

function unitInterval(value: number | undefined, fallback: number, option: string): number {
  const x = value ?? fallback;
  if (!(Number.isFinite(x) && x >= 0 && x < 1)) {
    throw new ConfigError(`optimizer option ${option}: expected a number in [0, 1); received ${String(x)}`);
  }
  return x;
}

/** The rule whose state names all appear among `tensors`, for error hints. */
function guessOptimizer(tensors: ReadonlyMap<string, Float32Array>): OptimizerName | undefined {
  return OPTIMIZERS.find((o) => STATE_NAMES[o].length > 0 && STATE_NAMES[o].every((k) => tensors.has(k)));
}

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? "no tensors" : names.join(", ");
}

// ---------------------------------------------------------------------------------------------
// Learning-rate schedule

/** The shapes of learning-rate schedule after the warmup. */
export type ScheduleKind = "step" | "cosine";

/** All schedule kinds, in the order shown to users. */
export const SCHEDULES: readonly ScheduleKind[] = ["step", "cosine"];

/**
 * The schedule's options in the training option table (src/train/schema.ts spreads them in): their
 * ranges, defaults and help, and the defaults `learningRateAt` takes for what a schedule leaves out.
 */
export const SCHEDULE_SCHEMA = {
  /** Learning-rate schedule after the warmup: "step" (lrDecay every lrDecayEvery steps) or "cosine". */
  lrSchedule: { kind: "choice", flag: "lr-schedule", scope: "resumable", value: "S", choices: SCHEDULES, default: "step", help: "after the warm-up, step decays by --lr-decay every --lr-decay-every steps, cosine falls to --lr-min by --cosine-steps" },
  /** Steps of linear warmup of the learning rate. */
  warmup: { kind: "int", flag: "warmup", scope: "resumable", value: "N", min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, help: "linear warm-up of the learning rate over the first N steps" },
  /** cosine: the step where the rate reaches its floor (default: `steps`, when given). */
  cosineSteps: { kind: "int", flag: "cosine-steps", scope: "resumable", value: "N", min: 1, max: Number.MAX_SAFE_INTEGER, defaultText: "--steps", help: "cosine: the step where the rate reaches its floor" },
  /** cosine: the floor as a fraction of lr, in [0, 1]. */
  minLrFraction: { kind: "number", flag: "lr-min", scope: "resumable", value: "F", min: 0, max: 1, default: 0.1, help: "cosine: the floor, a fraction of --lr" },
  /** step: multiply the learning rate by this every lrDecayEvery steps (1: none). */
  lrDecay: { kind: "number", flag: "lr-decay", scope: "resumable", value: "F", min: 0, minOpen: true, max: 1, default: 1, help: "multiply the learning rate by F every --lr-decay-every steps (1: none)" },
  /** step: steps between decays. */
  lrDecayEvery: { kind: "int", flag: "lr-decay-every", scope: "resumable", value: "N", min: 1, max: Number.MAX_SAFE_INTEGER, default: 1000, help: "steps between decays" },
} as const satisfies OptionTable;

const SCHEDULE_DEFAULTS = tableDefaults(SCHEDULE_SCHEMA);

/**
 * A learning-rate schedule: linear warmup, then step decay (char-rnn's) or cosine decay to a
 * floor (PyTorch's CosineAnnealingLR). Off by default; what is left out takes the option table's
 * default (SCHEDULE_SCHEMA: the option in brackets).
 */
export interface ScheduleOptions {
  /** "step" or "cosine" [lrSchedule]. */
  readonly kind?: ScheduleKind;
  /** step: multiply the learning rate by this every `decayEvery` steps, in (0, 1] [lrDecay: 1, no decay]. */
  readonly decay?: number;
  /** step: steps between two decays, an integer ≥ 1 [lrDecayEvery]. */
  readonly decayEvery?: number;
  /** Steps of linear warmup from lr/warmup up to lr, an integer ≥ 0 [warmup: none]. */
  readonly warmup?: number;
  /** cosine: the step at which the rate reaches the floor (and stays), an integer > warmup. Required for "cosine". */
  readonly cosineSteps?: number;
  /** cosine: the floor, as a fraction of the base rate, in [0, 1] [minLrFraction]. */
  readonly minLrFraction?: number;
}

/**
 * The learning rate of one update, a pure function of the step so that a resumed run gets the
 * same rates:
 *   step    lr = baseLr · decay^⌊step/decayEvery⌋ · min(1, (step+1)/warmup)   (decay counts from step 0, warmup included)
 *   cosine  lr = baseLr · (step+1)/warmup during the warmup, then
 *           lr = baseLr · (f + (1 − f)·½(1 + cos(π·min(1, (step − warmup)/(cosineSteps − warmup)))))  with f = minLrFraction
 * Pass `optimizer.stepCount` before the update.
 * @param baseLr learning rate without schedule, finite and > 0
 * @param step number of updates already taken (0 for the first), an integer ≥ 0
 * @param schedule kind, decay, warmup, cosine horizon and floor; default none
 * @returns the learning rate for this update
 * @throws ConfigError naming the first argument or option out of range
 */
export function learningRateAt(baseLr: number, step: number, schedule: ScheduleOptions = {}): number {
  if (!(Number.isFinite(baseLr) && baseLr > 0)) {
    throw new ConfigError(`learning rate: expected a finite number > 0; received ${String(baseLr)}`);
  }
  if (!(Number.isSafeInteger(step) && step >= 0)) {
    throw new ConfigError(`schedule step: expected an integer ≥ 0; received ${String(step)}`);
  }
  const decay = schedule.decay ?? SCHEDULE_DEFAULTS.lrDecay;
  if (!(Number.isFinite(decay) && decay > 0 && decay <= 1)) {
    throw new ConfigError(`schedule option decay: expected a number in (0, 1]; received ${String(decay)}`);
  }
  const decayEvery = schedule.decayEvery ?? SCHEDULE_DEFAULTS.lrDecayEvery;
  if (!(Number.isSafeInteger(decayEvery) && decayEvery >= 1)) {
    throw new ConfigError(`schedule option decayEvery: expected an integer ≥ 1; received ${String(decayEvery)}`);
  }
  const warmup = schedule.warmup ?? SCHEDULE_DEFAULTS.warmup;
  if (!(Number.isSafeInteger(warmup) && warmup >= 0)) {
    throw new ConfigError(`schedule option warmup: expected an integer ≥ 0; received ${String(warmup)}`);
  }
  const kind = schedule.kind ?? SCHEDULE_DEFAULTS.lrSchedule;
  if (!SCHEDULES.includes(kind)) throw new ConfigError(`schedule kind: expected one of ${SCHEDULES.join(", ")}; received ${JSON.stringify(kind)}`);
  if (kind === "cosine") {
    const end = schedule.cosineSteps;
    if (end === undefined || !(Number.isSafeInteger(end) && end > warmup)) {
      throw new ConfigError(
        `schedule option cosineSteps: the cosine schedule needs the step where it ends, an integer > warmup (${warmup}); received ${String(end)}. ` +
          "Give --steps, or --cosine-steps N with a time budget",
      );
    }
    const floor = schedule.minLrFraction ?? SCHEDULE_DEFAULTS.minLrFraction;
    if (!(Number.isFinite(floor) && floor >= 0 && floor <= 1)) {
      throw new ConfigError(`schedule option minLrFraction: expected a number in [0, 1]; received ${String(floor)}`);
    }
    if (step < warmup) return (baseLr * (step + 1)) / warmup;
    const progress = Math.min(1, (step - warmup) / (end - warmup));
    return baseLr * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
  let lr = decay === 1 ? baseLr : baseLr * Math.pow(decay, Math.floor(step / decayEvery));
  if (step < warmup) lr *= (step + 1) / warmup;
  return lr;
}
