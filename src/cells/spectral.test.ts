/**
 * σ_max by power iteration against matrices whose singular values are known by construction:
 * W = U diag(s) Vᵀ with U, V orthogonal (Gram–Schmidt of random Gaussian columns, in float64).
 */
import { describe, expect, it } from "vitest";
import { ShapeError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { largestSingularValue } from "./spectral.ts";

/** A random (n, n) orthogonal matrix, row-major: Gram–Schmidt (twice, for float64 orthogonality) of Gaussian columns. */
function orthogonal(n: number, rng: Rng): Float64Array {
  const q = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const col = Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + p] * col[i];
        for (let i = 0; i < n; i++) col[i] -= dot * q[i * n + p];
      }
    }
    const norm = Math.hypot(...col);
    for (let i = 0; i < n; i++) q[i * n + c] = col[i] / norm;
  }
  return q;
}

/** W = U diag(s) Vᵀ, (m, n) row-major, with s.length = min(m, n). */
function withSingularValues(s: readonly number[], m: number, n: number, rng: Rng): Float64Array {
  const u = orthogonal(m, rng);
  const v = orthogonal(n, rng);
  const w = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      for (let r = 0; r < s.length; r++) x += u[i * m + r] * s[r] * v[j * n + r];
      w[i * n + j] = x;
    }
  }
  return w;
}

describe("largestSingularValue", () => {
  it("finds σ_max of square and rectangular matrices to 1e-6, the gap as small as 0.9", () => {
    const rng = new Rng(11);
    for (const [m, n, gap] of [[8, 8, 0.5], [32, 32, 0.9], [12, 5, 0.8], [5, 12, 0.7], [64, 64, 0.9]] as const) {
      const k = Math.min(m, n);
      // σ₁ = 1.7, σ₂ = gap·σ₁, the rest spread below σ₂
      const s = Array.from({ length: k }, (_, r) => (r === 0 ? 1.7 : 1.7 * gap * (1 - (r - 1) / k)));
      const got = largestSingularValue(withSingularValues(s, m, n, rng), m, n);
      expect(got.converged, `${m}×${n}`).toBe(true);
      expect(Math.abs(got.sigma - 1.7) / 1.7, `${m}×${n}, gap ${gap}: σ ${got.sigma}`).toBeLessThan(1e-6);
    }
  });

  it("reads float32 matrices, and a warm start from the vector of a nearby matrix takes fewer iterations", () => {
    const rng = new Rng(3);
    const w = withSingularValues(Array.from({ length: 24 }, (_, r) => 2 - r / 20), 24, 24, rng);
    const cold = largestSingularValue(Float32Array.from(w), 24, 24);
    const nudged = Float32Array.from(w, (x) => x * (1 + 1e-4 * rng.normal()));
    const warm = largestSingularValue(nudged, 24, 24, { start: cold.vector });
    const again = largestSingularValue(nudged, 24, 24);
    expect(Math.abs(cold.sigma - 2)).toBeLessThan(1e-5); // float32 entries
    expect(Math.abs(warm.sigma - again.sigma) / again.sigma).toBeLessThan(1e-9);
    expect(warm.iterations).toBeLessThan(again.iterations);
  });

  it("gives 0 for a zero matrix, stops at the iteration cap unconverged, and refuses wrong lengths", () => {
    expect(largestSingularValue(new Float64Array(6), 2, 3).sigma).toBe(0);
    const rng = new Rng(5);
    const w = withSingularValues([1, 0.999, 0.5], 3, 3, rng);
    const capped = largestSingularValue(w, 3, 3, { maxIterations: 3 });
    expect(capped.converged).toBe(false);
    expect(capped.iterations).toBe(3);
    expect(capped.sigma).toBeLessThanOrEqual(1 + 1e-12); // from below
    expect(() => largestSingularValue(new Float64Array(5), 2, 3)).toThrow(ShapeError);
    expect(() => largestSingularValue(new Float64Array(6), 2, 3, { start: new Float64Array(2) })).toThrow(ShapeError);
  });
});
