import { describe, expect, it } from "vitest";
import { ConfigError, ShapeError } from "../errors.ts";
import { kernelsByName } from "../kernels/index.ts";
import { wasmSimdSupported } from "../kernels/wasm.ts";
import { Rng } from "../rng.ts";
import {
  OPTIMIZERS,
  Optimizer,
  defaultLearningRate,
  learningRateAt,
  resolveOptimizerOptions,
  SCHEDULE_SCHEMA,
} from "./optimizers.ts";
import type { OptimizerName, OptimizerOptions } from "./optimizers.ts";

/** Seeded uniform values in [lo, hi), rounded to float32. */
function randomF32(rng: Rng, n: number, lo = -2, hi = 2): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** |a − r| ≤ atol + rtol·|r| for every element (llm.c's validate_result). */
function expectClose(actual: ArrayLike<number>, ref: ArrayLike<number>, what: string, rtol = 1e-6, atol = 1e-9): void {
  expect(actual.length, `${what}: length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i] as number;
    const r = ref[i] as number;
    if (!(Math.abs(a - r) <= atol + rtol * Math.abs(r))) {
      expect.fail(`${what}[${i}]: got ${a}, reference ${r} (|diff| ${Math.abs(a - r)})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Independent float64 references, written from the textbook formulas (not from optimizers.ts).

interface RefHyper {
  momentum: number;
  beta1: number;
  beta2: number;
  alpha: number;
  eps: number;
  /** weight decay λ, on indices where `decayed` says so (all when absent) */
  weightDecay?: number;
  decayed?: (i: number) => boolean;
}

/** One update of `name`, float64 throughout; state arrays keyed by the optimizer's tensor names. */
function referenceStep(
  name: OptimizerName,
  p: number[],
  g: number[],
  state: Map<string, number[]>,
  t: number,
  lr: number,
  h: RefHyper,
): void {
  const get = (key: string): number[] => {
    let s = state.get(key);
    if (s === undefined) state.set(key, (s = p.map(() => 0)));
    return s;
  };
  for (let i = 0; i < p.length; i++) {
    const wd = (h.decayed?.(i) ?? true) ? (h.weightDecay ?? 0) : 0;
    // weight decay: AdamW decays the parameter (decoupled); the others add λ·p to the gradient (L2)
    if (name === "adam") p[i] = (p[i] as number) * (1 - lr * wd);
    const gi = (g[i] as number) + (name === "adam" ? 0 : wd * (p[i] as number));
    if (name === "sgd") {
      p[i] = (p[i] as number) - lr * gi;
    } else if (name === "momentum") {
      const b = get("optim.momentum_buffer");
      b[i] = t === 1 ? gi : h.momentum * (b[i] as number) + gi; // PyTorch: buf = g on the first step
      p[i] = (p[i] as number) - lr * (b[i] as number);
    } else if (name === "adagrad") {
      const s = get("optim.sum");
      s[i] = (s[i] as number) + gi ** 2;
      p[i] = (p[i] as number) - (lr * gi) / (Math.sqrt(s[i] as number) + h.eps);
    } else if (name === "rmsprop") {
      const v = get("optim.square_avg");
      v[i] = h.alpha * (v[i] as number) + (1 - h.alpha) * gi ** 2;
      p[i] = (p[i] as number) - (lr * gi) / (Math.sqrt(v[i] as number) + h.eps);
    } else {
      // Adam as in Kingma & Ba, Algorithm 1, with ε outside the bias-corrected root (PyTorch)
      const m = get("optim.exp_avg");
      const v = get("optim.exp_avg_sq");
      m[i] = h.beta1 * (m[i] as number) + (1 - h.beta1) * gi;
      v[i] = h.beta2 * (v[i] as number) + (1 - h.beta2) * gi ** 2;
      const mHat = (m[i] as number) / (1 - h.beta1 ** t);
      const vHat = (v[i] as number) / (1 - h.beta2 ** t);
      p[i] = (p[i] as number) - (lr * mHat) / (Math.sqrt(vHat) + h.eps);
    }
  }
}

const DEFAULT_HYPER = (name: OptimizerName): RefHyper => ({
  momentum: 0.9,
  beta1: 0.9,
  beta2: 0.999,
  alpha: 0.99,
  eps: name === "adagrad" ? 1e-10 : 1e-8,
});

const CUSTOM: Omit<OptimizerOptions, "name" | "lr"> = { momentum: 0.5, beta1: 0.8, beta2: 0.99, alpha: 0.95, eps: 1e-6 };

describe("Optimizer against a float64 reference (3 steps)", () => {
  const cases = OPTIMIZERS.flatMap((name) => [
    { name, label: "defaults", extra: {}, hyper: DEFAULT_HYPER(name) },
    { name, label: "custom", extra: CUSTOM, hyper: CUSTOM as RefHyper },
  ]);
  it.each(cases)("$name with $label hyperparameters", ({ name, extra, hyper }) => {
    const rng = new Rng(OPTIMIZERS.indexOf(name) + 17);
    const n = 7;
    const lr = 0.05;
    const params = randomF32(rng, n);
    const refP = Array.from(params);
    const refState = new Map<string, number[]>();
    const opt = new Optimizer({ name, lr, ...extra }, n);
    const lrs = [undefined, undefined, 0.02]; // the third step overrides lr, as a schedule does
    for (let t = 1; t <= 3; t++) {
      const grads = randomF32(rng, n, -1, 1);
      const stepLr = lrs[t - 1];
      if (stepLr === undefined) opt.step(params, grads);
      else opt.step(params, grads, stepLr);
      referenceStep(name, refP, Array.from(grads), refState, t, stepLr ?? lr, hyper);
      expectClose(params, refP, `${name} params after step ${t}`);
      for (const [key, arr] of opt.stateTensors()) {
        const ref = refState.get(key);
        if (ref === undefined) expect.fail(`reference has no state ${key}`);
        expectClose(arr, ref, `${name} ${key} after step ${t}`);
      }
      expect(opt.stepCount).toBe(t);
    }
    expect(opt.stateTensors().map(([k]) => k).sort()).toEqual([...refState.keys()].sort());
  });

  it.each(OPTIMIZERS)("%s with weight decay on some of the parameters (adam: decoupled, AdamW; the others: L2)", (name) => {
    const rng = new Rng(OPTIMIZERS.indexOf(name) + 41);
    const n = 9;
    const lr = 0.05;
    const weightDecay = 0.3;
    const decayed: [number, number][] = [[0, 4], [6, 8]]; // "weights"; 4, 5 and 8 are "biases"
    const inRange = (i: number): boolean => decayed.some(([a, b]) => i >= a && i < b);
    const params = randomF32(rng, n);
    const refP = Array.from(params);
    const refState = new Map<string, number[]>();
    const opt = new Optimizer({ name, lr, weightDecay }, n, undefined, decayed);
    for (let t = 1; t <= 3; t++) {
      const grads = randomF32(rng, n, -1, 1);
      const refG = Array.from(grads);
      opt.step(params, grads);
      referenceStep(name, refP, refG, refState, t, lr, { ...DEFAULT_HYPER(name), weightDecay, decayed: inRange });
      expectClose(params, refP, `${name} params after step ${t}`);
    }
    expect(() => new Optimizer({ name, lr, weightDecay: -1 }, n)).toThrowError(/weightDecay: expected a finite number ≥ 0; received -1/);
    expect(() => new Optimizer({ name, lr }, n, undefined, [[2, 10]])).toThrowError(/decayed range \[2, 10\)/);
  });

  it("sgd's first step is p − lr·g exactly (rounded once to float32)", () => {
    const p0 = [1, -0.5, 0.25, 3];
    const g = [0.5, 2, -1, 0];
    const p = new Float32Array(p0);
    new Optimizer({ name: "sgd", lr: 0.1 }, 4).step(p, new Float32Array(g));
    expect(Array.from(p)).toEqual(p0.map((x, i) => Math.fround(x - 0.1 * g[i]!)));
  });

  it("adam's first step moves each parameter by about lr·sign(g)", () => {
    const p = new Float32Array([0, 0, 0]);
    new Optimizer({ name: "adam", lr: 1e-3 }, 3).step(p, new Float32Array([0.5, -3, 1e-3]));
    // m̂ = g, v̂ = g², so Δp = −lr·g/(|g| + ε)
    expectClose(p, [-1e-3, 1e-3, -1e-3], "adam step 1", 1e-5);
  });

  it("adagrad's first step is lr·sign(g) and ignores the gradient's scale", () => {
    const p = new Float32Array([0, 0]);
    new Optimizer({ name: "adagrad", lr: 0.1 }, 2).step(p, new Float32Array([1e-3, -50]));
    expectClose(p, [-0.1, 0.1], "adagrad step 1");
  });
});

describe("exact resume", () => {
  it.each(OPTIMIZERS)("%s: 2N steps equal N steps, export, load into a new Optimizer, N steps", (name) => {
    const rng = new Rng(99);
    const n = 37;
    const N = 4;
    const schedule = { warmup: 3, decay: 0.9, decayEvery: 2 };
    const options: OptimizerOptions = { name, lr: defaultLearningRate(name) };
    const p0 = randomF32(rng, n);
    const gradSeq = Array.from({ length: 2 * N }, () => randomF32(rng, n));
    const run = (opt: Optimizer, p: Float32Array, from: number, to: number): void => {
      for (let k = from; k < to; k++) opt.step(p, gradSeq[k]!, learningRateAt(options.lr, opt.stepCount, schedule));
    };

    const straight = new Optimizer(options, n);
    const pA = p0.slice();
    run(straight, pA, 0, 2 * N);

    const first = new Optimizer(options, n);
    const pB = p0.slice();
    run(first, pB, 0, N);
    const saved = new Map(first.stateTensors());
    const savedStep = first.stepCount;
    run(first, pB.slice(), N, N + 1); // stepping on after the export must not change the export
    const resumed = new Optimizer(options, n);
    resumed.loadState(saved, savedStep);
    run(resumed, pB, N, 2 * N);

    expect(resumed.stepCount).toBe(2 * N);
    expect(bits(pB)).toEqual(bits(pA));
    const stateA = straight.stateTensors();
    const stateB = resumed.stateTensors();
    expect(stateB.map(([k]) => k)).toEqual(stateA.map(([k]) => k));
    stateA.forEach(([, a], i) => expect(bits(stateB[i]![1])).toEqual(bits(a)));
  });

  it.runIf(wasmSimdSupported())("every optimizer on the WebAssembly kernels gives the portable bits, and resumes from them", () => {
    const k = kernelsByName("wasm");
    const rng = new Rng(7);
    const n = 1003; // SIMD body and remainder
    const p0 = randomF32(rng, n);
    const gradSeq = Array.from({ length: 6 }, () => randomF32(rng, n, -1e-3, 1e-3));
    for (const name of OPTIMIZERS) {
      const options: OptimizerOptions = { name, lr: defaultLearningRate(name) };
      const portable = new Optimizer(options, n);
      const wasm = new Optimizer(options, n, k);
      const pP = p0.slice(), pW = k.allocate(n), g = k.allocate(n);
      pW.set(p0);
      for (let t = 0; t < 3; t++) {
        g.set(gradSeq[t]!);
        portable.step(pP, gradSeq[t]!);
        wasm.step(pW, g);
      }
      // export from one, load into the other, go on
      const resumed = new Optimizer(options, n, k);
      resumed.loadState(new Map(portable.stateTensors()), portable.stepCount);
      for (let t = 3; t < 6; t++) {
        g.set(gradSeq[t]!);
        portable.step(pP, gradSeq[t]!);
        resumed.step(pW, g);
      }
      expect(bits(pW), name).toEqual(bits(pP));
      resumed.stateTensors().forEach(([key, a], i) => expect(bits(a), `${name} ${key}`).toEqual(bits(portable.stateTensors()[i]![1])));
      for (const a of [pW, g]) k.free(a);
      wasm.dispose();
      resumed.dispose();
    }
  });

  it("names state tensors per optimizer", () => {
    const names = (name: OptimizerName): string[] => new Optimizer({ name, lr: 1 }, 3).stateTensors().map(([k]) => k);
    expect(names("sgd")).toEqual([]);
    expect(names("momentum")).toEqual(["optim.momentum_buffer"]);
    expect(names("adagrad")).toEqual(["optim.sum"]);
    expect(names("rmsprop")).toEqual(["optim.square_avg"]);
    expect(names("adam")).toEqual(["optim.exp_avg", "optim.exp_avg_sq"]);
  });

  it("ignores tensors outside optim.* (a whole checkpoint can be passed)", () => {
    const opt = new Optimizer({ name: "rmsprop", lr: 1e-3 }, 2);
    const v = new Float32Array([1, 2]);
    opt.loadState(new Map([["fc.weight", new Float32Array(5)], ["optim.square_avg", v]]), 7);
    expect(opt.stepCount).toBe(7);
    v[0] = 9; // copied, not aliased
    expect(Array.from(opt.stateTensors()[0]![1])).toEqual([1, 2]);
  });

  it("rejects state from another optimizer, missing or mis-sized tensors and bad step counts", () => {
    const rms = new Optimizer({ name: "rmsprop", lr: 1e-3 }, 10);
    const adam = new Optimizer({ name: "adam", lr: 1e-3 }, 10);
    const adamState = new Map(adam.stateTensors());
    expect(() => rms.loadState(adamState, 3)).toThrowError(ConfigError);
    expect(() => rms.loadState(adamState, 3)).toThrowError(
      /optimizer state for rmsprop: expected optim\.square_avg; received unexpected tensor optim\.exp_avg \(state saved with --optimizer adam\?\)/,
    );
    expect(() => adam.loadState(new Map(rms.stateTensors()), 3)).toThrowError(/--optimizer rmsprop\?/);
    expect(() => new Optimizer({ name: "sgd", lr: 0.1 }, 10).loadState(adamState, 3)).toThrowError(
      /expected no tensors; received unexpected tensor optim\.exp_avg/,
    );
    expect(() => adam.loadState(new Map([["optim.exp_avg", new Float32Array(10)]]), 3)).toThrowError(
      /expected tensor optim\.exp_avg_sq; received none/,
    );
    expect(() => rms.loadState(new Map([["optim.square_avg", new Float32Array(9)]]), 3)).toThrowError(
      /optim\.square_avg: expected 10 values .*; received 9/,
    );
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => rms.loadState(new Map(rms.stateTensors()), bad)).toThrowError(/stepCount: expected a non-negative integer/);
    }
  });
});

describe("option validation", () => {
  const bad: [string, OptimizerOptions, RegExp][] = [
    ["lr 0", { name: "sgd", lr: 0 }, /option lr: expected a finite number > 0; received 0/],
    ["lr < 0", { name: "adam", lr: -1e-3 }, /option lr: expected .*; received -0\.001/],
    ["lr NaN", { name: "adam", lr: Number.NaN }, /option lr: .*received NaN/],
    ["lr ∞", { name: "adam", lr: Number.POSITIVE_INFINITY }, /option lr: .*received Infinity/],
    ["momentum 1", { name: "momentum", lr: 0.1, momentum: 1 }, /option momentum: expected a number in \[0, 1\); received 1/],
    ["beta1 1", { name: "adam", lr: 0.1, beta1: 1 }, /option beta1: expected a number in \[0, 1\); received 1/],
    ["beta2 < 0", { name: "adam", lr: 0.1, beta2: -0.1 }, /option beta2: .*received -0\.1/],
    ["alpha 1.5", { name: "rmsprop", lr: 0.1, alpha: 1.5 }, /option alpha: .*received 1\.5/],
    ["eps 0", { name: "adam", lr: 0.1, eps: 0 }, /option eps: expected a finite number > 0; received 0/],
    ["name", { name: "adamw" as unknown as OptimizerName, lr: 0.1 }, /optimizer name: expected one of sgd, momentum, adagrad, rmsprop, adam; received "adamw"/],
  ];
  it.each(bad)("rejects %s", (_label, options, message) => {
    expect(() => new Optimizer(options, 4)).toThrowError(ConfigError);
    expect(() => new Optimizer(options, 4)).toThrowError(message);
  });

  it("rejects a bad size, mismatched arrays and a bad step lr", () => {
    expect(() => new Optimizer({ name: "sgd", lr: 0.1 }, -1)).toThrowError(/optimizer size: expected a non-negative integer; received -1/);
    expect(() => new Optimizer({ name: "sgd", lr: 0.1 }, 2.5)).toThrowError(ConfigError);
    const opt = new Optimizer({ name: "adam", lr: 0.1 }, 4);
    expect(() => opt.step(new Float32Array(4), new Float32Array(3))).toThrowError(ShapeError);
    expect(() => opt.step(new Float32Array(5), new Float32Array(4))).toThrowError(
      /expected params and grads of length 4; received 5 and 4/,
    );
    expect(() => opt.step(new Float32Array(4), new Float32Array(4), Number.NaN)).toThrowError(/step lr: .*received NaN/);
    expect(opt.stepCount).toBe(0); // a rejected step changes nothing
  });

  it("fills in documented defaults", () => {
    expect(resolveOptimizerOptions({ name: "adam", lr: 1 })).toEqual({
      name: "adam",
      lr: 1,
      momentum: 0.9,
      beta1: 0.9,
      beta2: 0.999,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
    });
    expect(resolveOptimizerOptions({ name: "adagrad", lr: 1 }).eps).toBe(1e-10);
    expect(resolveOptimizerOptions({ name: "rmsprop", lr: 1, eps: 1e-6 }).eps).toBe(1e-6);
  });

  it("has a default learning rate for every optimizer", () => {
    expect(OPTIMIZERS.map(defaultLearningRate)).toEqual([0.1, 0.01, 0.1, 2e-3, 2e-3]);
    expect(() => defaultLearningRate("nope" as unknown as OptimizerName)).toThrowError(ConfigError);
  });
});

describe("a quadratic f(p) = ½ Σ c_i p_i²", () => {
  it.each(OPTIMIZERS)("%s decreases it over 200 steps at its default learning rate", (name) => {
    const rng = new Rng(5);
    const n = 16;
    const c = randomF32(rng, n, 0.5, 2);
    const p = randomF32(rng, n, -1, 1);
    const g = new Float32Array(n);
    const f = (): number => p.reduce((s, x, i) => s + 0.5 * c[i]! * x * x, 0);
    const f0 = f();
    const opt = new Optimizer({ name, lr: defaultLearningRate(name) }, n);
    for (let k = 0; k < 200; k++) {
      for (let i = 0; i < n; i++) g[i] = c[i]! * p[i]!;
      opt.step(p, g);
    }
    expect(f()).toBeLessThan(0.5 * f0);
  });
});

describe("learningRateAt", () => {
  it("is the base rate without a schedule", () => {
    expect(learningRateAt(0.1, 0)).toBe(0.1);
    expect(learningRateAt(0.1, 12345, {})).toBe(0.1);
  });

  it("warms up linearly, then decays every decayEvery steps", () => {
    const s = { warmup: 4, decay: 0.5, decayEvery: 3 };
    const lrs = Array.from({ length: 8 }, (_, k) => learningRateAt(1, k, s));
    // step: 0     1     2     3          4     5     6      7
    expect(lrs).toEqual([0.25, 0.5, 0.75, 0.5 * 1, 0.5, 0.5, 0.25, 0.25]);
    expect(learningRateAt(2e-3, 100, { decay: 0.97, decayEvery: 10 })).toBeCloseTo(2e-3 * 0.97 ** 10, 15);
    // what a schedule leaves out is the option table's default: decayEvery 1000, as `bptt train --help` says
    expect(SCHEDULE_SCHEMA.lrDecayEvery.default).toBe(1000);
    expect(learningRateAt(1, 999, { decay: 0.9 })).toBe(1);
    expect(learningRateAt(1, 2000, { decay: 0.9 })).toBeCloseTo(0.9 ** 2, 15);
  });

  it("cosine: warms up linearly, falls along half a cosine to the floor at cosineSteps, then stays", () => {
    const schedule = { kind: "cosine", warmup: 10, cosineSteps: 110, minLrFraction: 0.2 } as const;
    expect(learningRateAt(1, 0, schedule)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(1, 9, schedule)).toBeCloseTo(1, 12);
    expect(learningRateAt(1, 10, schedule)).toBeCloseTo(1, 12);
    expect(learningRateAt(1, 60, schedule)).toBeCloseTo(0.2 + 0.8 * 0.5, 12); // halfway: cos(π/2) = 0
    expect(learningRateAt(2, 110, schedule)).toBeCloseTo(0.4, 12);
    expect(learningRateAt(2, 5000, schedule)).toBeCloseTo(0.4, 12);
    for (let t = 11; t < 110; t++) expect(learningRateAt(1, t, schedule)).toBeLessThan(learningRateAt(1, t - 1, schedule));
    expect(() => learningRateAt(1, 0, { kind: "cosine" })).toThrowError(/cosineSteps: the cosine schedule needs the step where it ends/);
    expect(() => learningRateAt(1, 0, { kind: "cosine", cosineSteps: 5, warmup: 5 })).toThrowError(/an integer > warmup \(5\)/);
    expect(() => learningRateAt(1, 0, { kind: "cosine", cosineSteps: 50, minLrFraction: 2 })).toThrowError(/minLrFraction/);
  });

  it("rejects bad arguments with the option's name", () => {
    expect(() => learningRateAt(0, 0)).toThrowError(ConfigError);
    expect(() => learningRateAt(0.1, -1)).toThrowError(/schedule step: expected an integer ≥ 0; received -1/);
    expect(() => learningRateAt(0.1, 0, { decay: 0 })).toThrowError(/option decay: expected a number in \(0, 1\]; received 0/);
    expect(() => learningRateAt(0.1, 0, { decay: 1.1 })).toThrowError(/option decay/);
    expect(() => learningRateAt(0.1, 0, { decayEvery: 0 })).toThrowError(/option decayEvery: expected an integer ≥ 1; received 0/);
    expect(() => learningRateAt(0.1, 0, { warmup: 2.5 })).toThrowError(/option warmup: expected an integer ≥ 0; received 2\.5/);
  });
});
