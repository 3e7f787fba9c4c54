/**
 * Every kernel of every implementation against a plain float64 loop (docs/testing.md), through one
 * helper: seeded inputs in [−2, 2] (wider where a kernel needs it, e.g. gate pre-activations that
 * saturate), the kernel run on arrays from the implementation's own `allocate`, the reference on
 * float64 copies of the same values, and |got − want| ≤ atol + rtol·|want| for every output.
 * Shapes include odd sizes (1, 3, 5, 17, 33, 65) that leave SIMD remainders, and sizes that cross the cache blocks of the
 * WebAssembly matrix product (K > 256, M > 128, N > 2048).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../rng.ts";
import { NONLINEARITY_CODE } from "./contract.ts";
import { availableKernels, defaultKernels, kernelsByName } from "./index.ts";
import { PANEL, packedFloats } from "./packed.ts";
import type { Kernels, Nonlinearity } from "./types.ts";
import { createWasmKernels, wasmRelaxedSimdSupported, wasmSimdSupported } from "./wasm.ts";

/** Inputs of one check: float arrays by name, plus token ids (values in [0, idRange)). */
interface CheckInputs {
  /** name → length of a float input or output, filled with uniform values in [−scale, scale] */
  readonly floats: Readonly<Record<string, number>>;
  /** length of the id array `ids`, if any */
  readonly ids?: number;
  /** ids are drawn from [0, idRange) */
  readonly idRange?: number;
  /** half-width of the input range; default 2 */
  readonly scale?: number;
  /** name → half-width of that array's range, where it differs from `scale` */
  readonly scales?: Readonly<Record<string, number>>;
}

/** Tolerances and which arrays to compare. */
interface CheckOptions {
  /** arrays (by name) the kernel writes */
  readonly outputs: readonly string[];
  readonly atol: number;
  readonly rtol: number;
  readonly seed?: number;
}

type F32 = Record<string, Float32Array>;
type F64 = Record<string, Float64Array>;

/**
 * Run one kernel call on `k` and the float64 reference on the same inputs, and compare.
 * @param k the implementation
 * @param label names the kernel, case and shape in failure messages
 * @param inputs array lengths and value ranges
 * @param run the kernel call; may return a scalar (a loss)
 * @param reference the same computation in float64 loops; returns the same scalar
 * @param options outputs to compare and tolerances
 */
function checkAgainstReference(
  k: Kernels, label: string, inputs: CheckInputs,
  run: (x: F32, ids: Int32Array) => number | void,
  reference: (x: F64, ids: Int32Array) => number | void,
  options: CheckOptions,
): void {
  const rng = new Rng(options.seed ?? 1234);
  const scale = inputs.scale ?? 2;
  const x32: F32 = {};
  const x64: F64 = {};
  const allocated: Float32Array[] = [];
  for (const [name, length] of Object.entries(inputs.floats)) {
    const a = k.allocate(length);
    allocated.push(a);
    const s = inputs.scales?.[name] ?? scale;
    for (let i = 0; i < length; i++) a[i] = rng.uniform(-s, s);
    x32[name] = a;
    x64[name] = Float64Array.from(a);
  }
  const idBlock = k.allocate(inputs.ids ?? 0);
  allocated.push(idBlock);
  const ids = new Int32Array(idBlock.buffer, idBlock.byteOffset, inputs.ids ?? 0);
  for (let i = 0; i < ids.length; i++) ids[i] = rng.int(inputs.idRange ?? 1);
  try {
    const got = run(x32, ids);
    const want = reference(x64, Int32Array.from(ids));
    if (typeof want === "number") {
      expect(typeof got, `${label}: returns a number`).toBe("number");
      const g = got as number;
      expect(Math.abs(g - want), `${label}: returned ${g}, reference ${want}`).toBeLessThanOrEqual(
        options.atol * 100 + options.rtol * Math.abs(want),
      );
    }
    for (const name of options.outputs) {
      const g = x32[name], w = x64[name];
      let worst = -1, worstExcess = 0;
      for (let i = 0; i < w.length; i++) {
        const excess = Math.abs(g[i] - w[i]) - (options.atol + options.rtol * Math.abs(w[i]));
        if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
          worst = i;
          worstExcess = excess;
        }
      }
      if (worst >= 0) {
        expect.fail(`${label}: ${name}[${worst}] = ${g[worst]}, reference ${w[worst]} (atol ${options.atol}, rtol ${options.rtol})`);
      }
    }
  } finally {
    for (const a of allocated) k.free(a);
  }
}

const TOL = { atol: 1e-5, rtol: 1e-5 };
// A sum of K products of values ≤ 2 in float32: error grows with K.
const gemmTol = (K: number): { atol: number; rtol: number } => ({ atol: 4e-7 * K + 1e-6, rtol: 1e-5 });

const GEMM_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1], [1, 17, 5], [3, 5, 17], [5, 3, 1], [4, 8, 16], [17, 33, 65], [65, 17, 33],
  [1, 100, 100], [2, 65, 33], [33, 65, 259], [130, 9, 20], [5, 2050, 3],
];

// Both WebAssembly builds where the runtime has relaxed SIMD (vitest.config.ts sets Node 20's flag):
// the default one (the FMA build there) and the plain SIMD build.
const impls: Kernels[] = availableKernels();
if (impls.some((k) => k.name === "wasm") && wasmRelaxedSimdSupported()) impls.push(createWasmKernels({ build: "simd" }));

/** A kernel set's name in test labels: the WebAssembly kernels with their build. */
function implName(k: Kernels): string {
  return "build" in k ? `${k.name}-${String(k.build)}` : k.name;
}

// Gated cells: batch rows and hidden sizes (H % 4 = 1, 3, 1, 1, 0 leave every SIMD remainder).
const GATED_ROWS = [1, 3, 32] as const;
const GATED_H = [1, 3, 5, 17, 64] as const;
// As activate's tolerance: the WebAssembly tanh and exp are approximations of a few ulp.
const CELL_FORWARD_TOL = { atol: 1e-6, rtol: 2e-6 };
// As activateBackward's: products of up to five float32 factors.
const CELL_BACKWARD_TOL = { atol: 1e-5, rtol: 1e-5 };
const sigma = (v: number): number => 1 / (1 + Math.exp(-v));
// The nonlinearity of each gate block: LSTM [i | f | g | o], GRU [r | z | n].
const LSTM_GATES = [sigma, sigma, Math.tanh, sigma] as const;
const GRU_GATES = [sigma, sigma, Math.tanh] as const;

/**
 * Turn random pre-activations into valid stored activations (test input for the backward kernels):
 * block q of every row through gate nonlinearity q.
 * @param a rows×G·H, in place
 * @param rows rows
 * @param H block width
 * @param fs the G nonlinearities
 */
function activateGates(a: Float32Array | Float64Array, rows: number, H: number, fs: readonly ((v: number) => number)[]): void {
  const G = fs.length;
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < G; q++) {
      for (let j = 0; j < H; j++) a[(r * G + q) * H + j] = fs[q](a[(r * G + q) * H + j]);
    }
  }
}

/**
 * @param k kernels
 * @returns how many calls `k` has run on the portable fallback so far (0 for kernels that have none)
 */
function fallbacksOf(k: Kernels): number {
  return "fallbackCalls" in k && typeof k.fallbackCalls === "number" ? k.fallbackCalls : 0;
}

/**
 * C (+)= op(A)·op(B) in float64 loops: the oracle of gemm and gemmPacked.
 * @param x float64 copies of the inputs: c (M×N, updated), a, b
 */
function referenceGemm(
  x: F64, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += (transA ? x.a[p * M + i] : x.a[i * K + p]) * (transB ? x.b[j * K + p] : x.b[p * N + j]);
      x.c[i * N + j] = accumulate ? x.c[i * N + j] + s : s;
    }
  }
}

describe("kernel implementations", () => {
  it("the WebAssembly kernels are available where the runtime supports them (built by npm run build:wasm)", () => {
    if (wasmSimdSupported()) expect(() => kernelsByName("wasm")).not.toThrow();
    expect(impls.map((k) => k.name)).toContain("portable");
  });

  it("rejects unknown names", () => {
    expect(() => kernelsByName("cuda")).toThrowError(/kernels: expected one of portable, wasm; received "cuda"/);
  });

  it("BPTT_KERNELS forces an implementation; without it the fastest available runs", () => {
    const saved = process.env["BPTT_KERNELS"];
    try {
      process.env["BPTT_KERNELS"] = "portable";
      expect(defaultKernels().name).toBe("portable");
      process.env["BPTT_KERNELS"] = "gpu";
      expect(() => defaultKernels()).toThrowError(/received "gpu"/);
      delete process.env["BPTT_KERNELS"];
      expect(defaultKernels().name).toBe(wasmSimdSupported() ? "wasm" : "portable");
    } finally {
      if (saved === undefined) delete process.env["BPTT_KERNELS"];
      else process.env["BPTT_KERNELS"] = saved;
    }
  });
});

for (const k of impls) {
  describe(`${implName(k)} kernels vs float64 loops`, () => {
    it("gemm: all transpose flags, with and without accumulate", () => {
      for (const [M, N, K] of GEMM_SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const accumulate of [false, true]) {
              const label = `${implName(k)} gemm M=${M} N=${N} K=${K} transA=${transA} transB=${transB} accumulate=${accumulate}`;
              checkAgainstReference(
                k, label, { floats: { c: M * N, a: M * K, b: K * N } },
                (x) => k.gemm(x.c, x.a, x.b, M, N, K, transA, transB, accumulate),
                (x) => referenceGemm(x, M, N, K, transA, transB, accumulate),
                { outputs: ["c"], ...gemmTol(K) },
              );
            }
          }
        }
      }
    });

    it("packB + gemmPacked: the product gemm computes, all flags; on WebAssembly gemm's bits from 4 rows up", () => {
      for (const [M, N, K] of GEMM_SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const accumulate of [false, true]) {
              const label = `${implName(k)} gemmPacked M=${M} N=${N} K=${K} transA=${transA} transB=${transB} accumulate=${accumulate}`;
              let viaGemm: Float32Array | undefined;
              checkAgainstReference(
                k, label, { floats: { c: M * N, a: M * K, b: K * N, packed: packedFloats(N, K) } },
                (x) => {
                  viaGemm = Float32Array.from(x.c);
                  k.gemm(viaGemm, x.a, x.b, M, N, K, transA, transB, accumulate);
                  k.packB(x.packed, x.b, N, K, transB);
                  k.gemmPacked(x.c, x.a, x.packed, M, N, K, transA, accumulate);
                },
                (x) => referenceGemm(x, M, N, K, transA, transB, accumulate),
                { outputs: ["c"], ...gemmTol(K) },
              );
              if (k.name === "wasm" && M >= 4 && viaGemm !== undefined) {
                // the same loops and micro-kernel over the same panels: the same rounding as gemm
                const again = k.allocate(M * N), a = k.allocate(M * K), b = k.allocate(K * N), packed = k.allocate(packedFloats(N, K));
                const rng = new Rng(M * 1000 + N + K);
                for (const x of [a, b]) for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-2, 2);
                const want = k.allocate(M * N);
                k.gemm(want, a, b, M, N, K, transA, transB, false);
                k.packB(packed, b, N, K, transB);
                k.gemmPacked(again, a, packed, M, N, K, transA, false);
                expect(Array.from(again), `${label}: gemm's bits`).toEqual(Array.from(want));
                for (const x of [again, a, b, packed, want]) k.free(x);
              }
            }
          }
        }
      }
    });

    it("packB: the layout of src/kernels/packed.ts, the padding zeroed", () => {
      const N = 11, K = 3;
      const b = k.allocate(K * N), packed = k.allocate(packedFloats(N, K));
      for (let i = 0; i < b.length; i++) b[i] = i + 1; // B[k, j] = k·N + j + 1
      packed.fill(NaN);
      k.packB(packed, b, N, K, false);
      const want = new Float32Array(packedFloats(N, K));
      for (let kk = 0; kk < K; kk++) for (let j = 0; j < N; j++) want[Math.floor(j / PANEL) * K * PANEL + kk * PANEL + (j % PANEL)] = kk * N + j + 1;
      expect(Array.from(packed)).toEqual(Array.from(want));
      k.free(b);
      k.free(packed);
    });

    it("gemm: K = 0 gives zeros or leaves C unchanged", () => {
      const c = k.allocate(6);
      c.fill(3);
      k.gemm(c, k.allocate(0), k.allocate(0), 2, 3, 0, false, false, true);
      expect(Array.from(c)).toEqual([3, 3, 3, 3, 3, 3]);
      k.gemm(c, k.allocate(0), k.allocate(0), 2, 3, 0, false, true, false);
      expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
    });

    it("addRowVector and sumRows", () => {
      for (const [rows, cols] of [[1, 1], [3, 5], [17, 33], [2, 65], [5, 4]] as const) {
        checkAgainstReference(
          k, `${implName(k)} addRowVector rows=${rows} cols=${cols}`, { floats: { out: rows * cols, v: cols } },
          (x) => k.addRowVector(x.out, x.v, rows, cols),
          (x) => {
            for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) x.out[r * cols + j] += x.v[j];
          },
          { outputs: ["out"], ...TOL },
        );
        checkAgainstReference(
          k, `${implName(k)} sumRows rows=${rows} cols=${cols}`, { floats: { out: cols, a: rows * cols } },
          (x) => k.sumRows(x.out, x.a, rows, cols),
          (x) => {
            for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) x.out[j] += x.a[r * cols + j];
          },
          { outputs: ["out"], atol: 1e-5 * rows, rtol: 1e-5 },
        );
      }
    });

    const f1: Readonly<Record<Nonlinearity, (v: number) => number>> = {
      tanh: Math.tanh,
      relu: (v) => (v > 0 ? v : 0),
      sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    };
    const f1Prime: Readonly<Record<Nonlinearity, (y: number) => number>> = {
      tanh: (y) => 1 - y * y,
      relu: (y) => (y > 0 ? 1 : 0),
      sigmoid: (y) => y * (1 - y),
    };

    it("activate and activateBackward, every nonlinearity, small and large inputs", () => {
      // every nonlinearity the kernels know: the keys of a Record<Nonlinearity, …>
      for (const f of Object.keys(NONLINEARITY_CODE) as Nonlinearity[]) {
        for (const n of [1, 3, 5, 17, 33, 65]) {
          for (const scale of [2, 30]) {
            checkAgainstReference(
              k, `${implName(k)} activate ${f} n=${n} range ±${scale}`, { floats: { x: n }, scale },
              (x) => k.activate(x.x, f, n),
              (x) => {
                for (let i = 0; i < n; i++) x.x[i] = f1[f](x.x[i]);
              },
              { outputs: ["x"], atol: 1e-6, rtol: 2e-6 },
            );
          }
          checkAgainstReference(
            k, `${implName(k)} activateBackward ${f} n=${n}`, { floats: { d: n, y: n } },
            (x) => {
              if (f !== "relu") k.activate(x.y, f, n); // y must be an output of f1 (tanh: |y| < 1)
              k.activateBackward(x.d, x.y, f, n);
            },
            (x) => {
              for (let i = 0; i < n; i++) {
                // the reference starts from the kernel's own y: f1' of the stored output is what is defined
                if (f !== "relu") x.y[i] = f1[f](x.y[i]);
                x.d[i] *= f1Prime[f](x.y[i]);
              }
            },
            { outputs: ["d"], atol: 1e-5, rtol: 1e-5 },
          );
        }
      }
    });

    it("lstmCellForward: L2–L4 on pre-activations in ±4", () => {
      const before = fallbacksOf(k);
      for (const rows of GATED_ROWS) {
        for (const H of GATED_H) {
          checkAgainstReference(
            k, `${implName(k)} lstmCellForward rows=${rows} H=${H}`,
            { floats: { gates: rows * 4 * H, c: rows * H, h: rows * H, cPrev: rows * H }, scales: { gates: 4 } },
            (x) => k.lstmCellForward(x.gates, x.c, x.h, x.cPrev, rows, H),
            (x) => {
              for (let r = 0; r < rows; r++) {
                for (let j = 0; j < H; j++) {
                  const b = r * 4 * H + j, e = r * H + j;
                  const i = sigma(x.gates[b]), f = sigma(x.gates[b + H]);
                  const g = Math.tanh(x.gates[b + 2 * H]), o = sigma(x.gates[b + 3 * H]);
                  [x.gates[b], x.gates[b + H], x.gates[b + 2 * H], x.gates[b + 3 * H]] = [i, f, g, o];
                  x.c[e] = f * x.cPrev[e] + i * g;
                  x.h[e] = o * Math.tanh(x.c[e]);
                }
              }
            },
            { outputs: ["gates", "c", "h", "cPrev"], ...CELL_FORWARD_TOL },
          );
        }
      }
      expect(fallbacksOf(k), "ran on its own arrays without falling back").toBe(before);
    });

    it("lstmCellBackward: L6–L9, dGates separate and in place over gates", () => {
      const before = fallbacksOf(k);
      for (const rows of GATED_ROWS) {
        for (const H of GATED_H) {
          for (const inPlace of [false, true]) {
            const n = rows * H;
            const out = inPlace ? "gates" : "dGates";
            checkAgainstReference(
              k, `${implName(k)} lstmCellBackward rows=${rows} H=${H} ${inPlace ? "dGates = gates" : "dGates separate"}`,
              {
                floats: { gates: 4 * n, ...(inPlace ? {} : { dGates: 4 * n }), dcPrev: n, dc: n, dh: n, c: n, cPrev: n },
                scales: { gates: 4 },
              },
              (x) => {
                activateGates(x.gates, rows, H, LSTM_GATES);
                k.lstmCellBackward(x[out], x.dcPrev, x.dc, x.dh, x.gates, x.c, x.cPrev, rows, H);
              },
              (x) => {
                activateGates(x.gates, rows, H, LSTM_GATES);
                const d = new Float64Array(4 * n);
                for (let r = 0; r < rows; r++) {
                  for (let j = 0; j < H; j++) {
                    const b = r * 4 * H + j, e = r * H + j;
                    const i = x.gates[b], f = x.gates[b + H], g = x.gates[b + 2 * H], o = x.gates[b + 3 * H];
                    const tc = Math.tanh(x.c[e]);
                    const dct = x.dc[e] + x.dh[e] * o * (1 - tc * tc);
                    d[b] = dct * g * i * (1 - i);
                    d[b + H] = dct * x.cPrev[e] * f * (1 - f);
                    d[b + 2 * H] = dct * i * (1 - g * g);
                    d[b + 3 * H] = x.dh[e] * tc * o * (1 - o);
                    x.dc[e] = dct;
                    x.dcPrev[e] = f * dct;
                  }
                }
                x[out].set(d);
              },
              { outputs: [...new Set([out, "gates", "dcPrev", "dc", "dh", "c", "cPrev"])], ...CELL_BACKWARD_TOL },
            );
          }
        }
      }
      expect(fallbacksOf(k), "ran on its own arrays without falling back").toBe(before);
    });

    it("gruCellForward: G2–G4 on pre-activations in ±4", () => {
      const before = fallbacksOf(k);
      for (const rows of GATED_ROWS) {
        for (const H of GATED_H) {
          checkAgainstReference(
            k, `${implName(k)} gruCellForward rows=${rows} H=${H}`,
            { floats: { gates: rows * 3 * H, hProj: rows * 3 * H, h: rows * H, hPrev: rows * H }, scales: { gates: 4, hProj: 4 } },
            (x) => k.gruCellForward(x.gates, x.hProj, x.h, x.hPrev, rows, H),
            (x) => {
              for (let r = 0; r < rows; r++) {
                for (let j = 0; j < H; j++) {
                  const b = r * 3 * H + j, e = r * H + j;
                  const rg = sigma(x.gates[b] + x.hProj[b]);
                  const z = sigma(x.gates[b + H] + x.hProj[b + H]);
                  const nv = Math.tanh(x.gates[b + 2 * H] + rg * x.hProj[b + 2 * H]);
                  [x.gates[b], x.gates[b + H], x.gates[b + 2 * H]] = [rg, z, nv];
                  x.h[e] = (1 - z) * nv + z * x.hPrev[e];
                }
              }
            },
            { outputs: ["gates", "h", "hProj", "hPrev"], ...CELL_FORWARD_TOL },
          );
        }
      }
      expect(fallbacksOf(k), "ran on its own arrays without falling back").toBe(before);
    });

    it("gruCellBackward: G6–G10, dx and dhProj separate and in place over gates and hProj", () => {
      const before = fallbacksOf(k);
      for (const rows of GATED_ROWS) {
        for (const H of GATED_H) {
          for (const inPlace of [false, true]) {
            const n = rows * H;
            const [dxName, dpName] = inPlace ? ["gates", "hProj"] : ["dx", "dhProj"];
            checkAgainstReference(
              k, `${implName(k)} gruCellBackward rows=${rows} H=${H} ${inPlace ? "dx = gates, dhProj = hProj" : "dx, dhProj separate"}`,
              {
                floats: {
                  gates: 3 * n, hProj: 3 * n, ...(inPlace ? {} : { dx: 3 * n, dhProj: 3 * n }), dhPrev: n, dh: n, hPrev: n,
                },
                scales: { gates: 4, hProj: 4 },
              },
              (x) => {
                activateGates(x.gates, rows, H, GRU_GATES);
                k.gruCellBackward(x[dxName], x[dpName], x.dhPrev, x.dh, x.gates, x.hProj, x.hPrev, rows, H);
              },
              (x) => {
                activateGates(x.gates, rows, H, GRU_GATES);
                const dx = new Float64Array(3 * n), dp = new Float64Array(3 * n);
                for (let r = 0; r < rows; r++) {
                  for (let j = 0; j < H; j++) {
                    const b = r * 3 * H + j, e = r * H + j;
                    const rg = x.gates[b], z = x.gates[b + H], nv = x.gates[b + 2 * H];
                    const dn = x.dh[e] * (1 - z);
                    const dz = x.dh[e] * (x.hPrev[e] - nv);
                    dx[b + 2 * H] = dn * (1 - nv * nv);
                    dp[b + 2 * H] = dx[b + 2 * H] * rg;
                    const dr = dx[b + 2 * H] * x.hProj[b + 2 * H];
                    dx[b] = dp[b] = dr * rg * (1 - rg);
                    dx[b + H] = dp[b + H] = dz * z * (1 - z);
                    x.dhPrev[e] = z * x.dh[e];
                  }
                }
                x[dxName].set(dx);
                x[dpName].set(dp);
              },
              {
                outputs: [...new Set([dxName, dpName, "dhPrev", "gates", "hProj", "dh", "hPrev"])],
                ...CELL_BACKWARD_TOL,
              },
            );
          }
        }
      }
      expect(fallbacksOf(k), "ran on its own arrays without falling back").toBe(before);
    });

    it("softmaxCrossEntropy and its backward, with moderate and huge logits", () => {
      for (const [rows, V] of [[1, 1], [1, 5], [3, 17], [5, 65], [2, 4], [4, 33]] as const) {
        for (const scale of [2, 60]) {
          checkAgainstReference(
            k, `${implName(k)} softmaxCrossEntropy rows=${rows} V=${V} range ±${scale}`,
            { floats: { y: rows * V }, ids: rows, idRange: V, scale },
            (x, ids) => k.softmaxCrossEntropy(x.y, ids, rows, V),
            (x, ids) => {
              let loss = 0;
              for (let r = 0; r < rows; r++) {
                const o = r * V;
                let max = -Infinity;
                for (let j = 0; j < V; j++) max = Math.max(max, x.y[o + j]);
                let sum = 0;
                for (let j = 0; j < V; j++) sum += Math.exp(x.y[o + j] - max);
                loss += Math.log(sum) - (x.y[o + ids[r]] - max);
                for (let j = 0; j < V; j++) x.y[o + j] = Math.exp(x.y[o + j] - max) / sum;
              }
              return loss;
            },
            { outputs: ["y"], atol: 1e-6, rtol: 1e-5 },
          );
        }
        for (const s of [1, 0.37]) {
          checkAgainstReference(
            k, `${implName(k)} softmaxCrossEntropyBackward rows=${rows} V=${V} scale=${s}`,
            { floats: { y: rows * V }, ids: rows, idRange: V },
            (x, ids) => k.softmaxCrossEntropyBackward(x.y, ids, rows, V, s),
            (x, ids) => {
              for (let r = 0; r < rows; r++) {
                x.y[r * V + ids[r]] -= 1;
                for (let j = 0; j < V; j++) x.y[r * V + j] *= s;
              }
            },
            { outputs: ["y"], ...TOL },
          );
        }
      }
    });

    it("gatherColumns and scatterAddColumns", () => {
      // the wasm loops tile 16 batch rows by 64 rows of W: sizes below, across and past both
      for (const [rows, H, V] of [[1, 1, 1], [3, 5, 17], [17, 33, 5], [6, 65, 3], [37, 130, 7]] as const) {
        checkAgainstReference(
          k, `${implName(k)} gatherColumns rows=${rows} H=${H} V=${V}`,
          { floats: { out: rows * H, W: H * V }, ids: rows, idRange: V },
          (x, ids) => k.gatherColumns(x.out, x.W, ids, rows, H, V),
          (x, ids) => {
            for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) x.out[r * H + j] = x.W[j * V + ids[r]];
          },
          { outputs: ["out"], atol: 0, rtol: 0 },
        );
        checkAgainstReference(
          k, `${implName(k)} scatterAddColumns rows=${rows} H=${H} V=${V}`,
          { floats: { dW: H * V, d: rows * H }, ids: rows, idRange: V },
          (x, ids) => k.scatterAddColumns(x.dW, x.d, ids, rows, H, V),
          (x, ids) => {
            for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) x.dW[j * V + ids[r]] += x.d[r * H + j];
          },
          { outputs: ["dW"], ...TOL },
        );
      }
    });

    it("adamUpdate: float64 arithmetic, float32 storage", () => {
      const [b1, b2, eps, stepSize, sqrtBc2] = [0.9, 0.999, 1e-8, 2e-3 / (1 - 0.9 ** 3), Math.sqrt(1 - 0.999 ** 3)];
      for (const n of [1, 3, 4, 5, 17, 65, 1000]) {
        checkAgainstReference(
          k, `${implName(k)} adamUpdate n=${n}`,
          { floats: { p: n, m: n, v: n, g: n } },
          (x) => {
            for (let i = 0; i < n; i++) x.v[i] = Math.abs(x.v[i]); // a second moment is ≥ 0
            k.adamUpdate(x.p, x.m, x.v, x.g, n, stepSize, sqrtBc2, b1, b2, eps);
          },
          (x) => {
            for (let i = 0; i < n; i++) {
              x.v[i] = Math.abs(x.v[i]);
              x.m[i] = b1 * x.m[i] + (1 - b1) * x.g[i];
              x.v[i] = b2 * x.v[i] + (1 - b2) * x.g[i] * x.g[i];
              x.p[i] -= (stepSize * x.m[i]) / (Math.sqrt(x.v[i]) / sqrtBc2 + eps);
            }
          },
          { outputs: ["p", "m", "v"], atol: 1e-6, rtol: 1e-6 },
        );
      }
    });

    it("checks lengths on entry", () => {
      const a = k.allocate(5);
      expect(() => k.gemm(a, a, a, 2, 3, 1, false, false, false)).toThrowError(/gemm C has 5 values; expected at least 6/);
      expect(() => k.gemmPacked(k.allocate(6), k.allocate(2), a, 2, 3, 1, false, false)).toThrowError(/gemmPacked packed has 5 values; expected at least 8/);
      expect(() => k.packB(a, k.allocate(3), 3, 1, false)).toThrowError(/packB packed has 5 values; expected at least 8/);
      expect(() => k.activate(a, "tanh", 6)).toThrowError(/activate x has 5 values; expected at least 6/);
      expect(() => k.lstmCellForward(a, a, a, a, 1, 2)).toThrowError(/lstmCellForward gates has 5 values; expected at least 8/);
      expect(() => k.gruCellBackward(a, a, a, a, a, a, a, 1, 2)).toThrowError(/gruCellBackward dx has 5 values; expected at least 6/);
      k.free(a);
    });

    it("allocate gives zeroed arrays the kernels use in place", () => {
      const a = k.allocate(37);
      expect(a.length).toBe(37);
      expect(a.every((v) => v === 0)).toBe(true);
      expect(k.isResident(a)).toBe(true);
      a.fill(5);
      k.free(a);
      const b = k.allocate(37);
      expect(b.every((v) => v === 0)).toBe(true);
      k.free(b);
    });
  });
}

describe.runIf(wasmSimdSupported())("wasm adamUpdate", () => {
  it("gives the portable kernel's bits, step after step, at every length (the optimizer's exact resume relies on it)", () => {
    const wasm = kernelsByName("wasm") as Kernels & { readonly fallbackCalls: number };
    const portable = kernelsByName("portable");
    const fallbacks = wasm.fallbackCalls;
    const rng = new Rng(5);
    for (const n of [1, 2, 3, 4, 7, 8, 33, 1001]) {
      const w = ["p", "m", "v", "g"].map(() => wasm.allocate(n));
      const q = ["p", "m", "v", "g"].map(() => new Float32Array(n));
      for (let i = 0; i < n; i++) w[0][i] = q[0][i] = rng.uniform(-1, 1);
      for (let t = 1; t <= 20; t++) {
        // gradients of every size, zeros and huge ones included
        for (let i = 0; i < n; i++) w[3][i] = q[3][i] = i % 7 === 0 ? 0 : rng.uniform(-1, 1) * 10 ** rng.int(12) * 1e-6;
        const [stepSize, sqrtBc2] = [1e-2 / (1 - 0.9 ** t), Math.sqrt(1 - 0.999 ** t)];
        wasm.adamUpdate(w[0], w[1], w[2], w[3], n, stepSize, sqrtBc2, 0.9, 0.999, 1e-8);
        portable.adamUpdate(q[0], q[1], q[2], q[3], n, stepSize, sqrtBc2, 0.9, 0.999, 1e-8);
      }
      const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, n));
      for (let j = 0; j < 3; j++) expect(bits(w[j]), `${"pmv"[j]} n=${n}`).toEqual(bits(q[j]));
      for (const a of w) wasm.free(a);
    }
    expect(wasm.fallbackCalls).toBe(fallbacks); // it ran the WebAssembly kernel
  });
});

