import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { allFinite, clipElementwise, clipGlobalNorm, globalNorm } from "./clip.ts";

function randomF32(seed: number, n: number, scale: number): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

/** The norm in float64, written independently of clip.ts. */
function referenceNorm(a: ArrayLike<number>): number {
  return Math.hypot(...Array.from(a));
}

describe("globalNorm", () => {
  it("computes √Σg² exactly for small cases", () => {
    expect(globalNorm(new Float32Array([3, 4]))).toBe(5);
    expect(globalNorm(new Float32Array([1, 2, 2]))).toBe(3);
    expect(globalNorm(new Float32Array(0))).toBe(0);
  });

  it("matches a float64 reference on random values", () => {
    const g = randomF32(1, 1000, 3);
    expect(globalNorm(g)).toBeCloseTo(referenceNorm(g), 12);
  });

  it("accumulates in float64 (a float32 sum would lose the small terms)", () => {
    // Σg² = 1e8 + 1000·(0.01)²: in float32 the ulp at 1e8 is 8, so the 0.1 would vanish.
    const g = new Float32Array(1001).fill(0.01);
    g[0] = 1e4;
    const small = Math.fround(0.01);
    expect(globalNorm(g)).toBeCloseTo(Math.sqrt(1e8 + 1000 * small * small), 9);
    expect(globalNorm(g) - 1e4).toBeGreaterThan(4e-6);
  });

  it("is not finite when a gradient is not", () => {
    expect(globalNorm(new Float32Array([1, Number.NaN]))).toBeNaN();
    expect(globalNorm(new Float32Array([1, Number.NEGATIVE_INFINITY]))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("clipGlobalNorm", () => {
  it("scales by maxNorm/(norm + 1e-6) above the threshold and returns the norm before clipping", () => {
    const g = new Float32Array([3, 4]);
    expect(clipGlobalNorm(g, 1)).toBe(5);
    const scale = 1 / (5 + 1e-6);
    expect(Array.from(g)).toEqual([Math.fround(3 * scale), Math.fround(4 * scale)]);
    expect(globalNorm(g)).toBeCloseTo(1, 6);
    expect(globalNorm(g)).toBeLessThanOrEqual(1);
  });

  it("clips a random vector to maxNorm, keeping its direction", () => {
    const g = randomF32(2, 500, 1);
    const before = Float64Array.from(g);
    const norm = clipGlobalNorm(g, 0.5);
    expect(norm).toBeCloseTo(referenceNorm(before), 10);
    expect(globalNorm(g)).toBeCloseTo(0.5, 5);
    for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo((before[i]! * 0.5) / (norm + 1e-6), 7);
  });

  it("changes nothing below the threshold", () => {
    const g = randomF32(3, 100, 0.01);
    const copy = g.slice();
    const norm = clipGlobalNorm(g, 5);
    expect(norm).toBeCloseTo(referenceNorm(copy), 12);
    expect(g).toEqual(copy);
  });

  it("leaves non-finite gradients alone and reports the norm", () => {
    const g = new Float32Array([1, Number.POSITIVE_INFINITY, 2]);
    expect(clipGlobalNorm(g, 1)).toBe(Number.POSITIVE_INFINITY);
    expect(Array.from(g)).toEqual([1, Number.POSITIVE_INFINITY, 2]);
    expect(clipGlobalNorm(new Float32Array([Number.NaN]), 1)).toBeNaN();
  });

  it("rejects a bad maxNorm", () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => clipGlobalNorm(new Float32Array(2), bad)).toThrowError(ConfigError);
    }
    expect(() => clipGlobalNorm(new Float32Array(2), -1)).toThrowError(/clip maxNorm: expected a finite number > 0; received -1/);
  });
});

describe("clipElementwise", () => {
  it("clips to [−limit, limit] like np.clip and keeps values inside", () => {
    const g = new Float32Array([-7, -5, -4.5, 0, 3, 5, 5.5, 1e30, -0]);
    clipElementwise(g, 5);
    expect(Array.from(g)).toEqual([-5, -5, -4.5, 0, 3, 5, 5, 5, -0]);
  });

  it("changes nothing when every value is within the limit", () => {
    const g = randomF32(4, 200, 1);
    const copy = g.slice();
    clipElementwise(g, 1);
    expect(g).toEqual(copy);
  });

  it("clips infinities and keeps NaN for divergence detection", () => {
    const g = new Float32Array([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]);
    clipElementwise(g, 2);
    expect(g[0]).toBe(2);
    expect(g[1]).toBe(-2);
    expect(g[2]).toBeNaN();
  });

  it("rejects a bad limit", () => {
    expect(() => clipElementwise(new Float32Array(1), 0)).toThrowError(ConfigError);
    expect(() => clipElementwise(new Float32Array(1), Number.NaN)).toThrowError(/clip limit: expected a finite number > 0; received NaN/);
  });
});

describe("allFinite", () => {
  it("is true for finite values, extremes included, and for an empty array", () => {
    expect(allFinite(new Float32Array(0))).toBe(true);
    expect(allFinite(randomF32(5, 1000, 100))).toBe(true);
    const max = Math.fround(3.4028234663852886e38);
    expect(allFinite(new Float32Array([max, -max, 1e-45, -0, 0]))).toBe(true);
  });

  it("finds a NaN or an infinity at any position", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 17, 99]) {
        const a = randomF32(6, 100, 1);
        a[at] = bad;
        expect(allFinite(a), `${bad} at ${at}`).toBe(false);
      }
    }
    // +∞ and −∞ together must not cancel
    expect(allFinite(new Float32Array([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]))).toBe(false);
  });
});
