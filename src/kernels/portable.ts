/**
 * Portable kernels in plain TypeScript: the readable definition of every kernel and the
 * fallback where WebAssembly SIMD is missing. Loop orders keep the innermost loop on
 * contiguous memory; sums of products over K run in float64 locals.
 */
import type { Nonlinearity } from "../model/config.ts";
import { need } from "./check.ts";
import type { Kernels } from "./types.ts";

function gemm(
  c: Float32Array, a: Float32Array, b: Float32Array,
  M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean,
): void {
  need("gemm C", c, M * N);
  need("gemm A", a, M * K);
  need("gemm B", b, K * N);
  if (!transB) {
    // C[i, :] += Σ_k A(i, k) · B[k, :] — updates by contiguous rows of B, four rows of B per pass
    // over C[i, :] (4× fewer loads and stores of C than one row at a time, ~2× faster in V8).
    // A(i, k) is a[i·K + k], or a[k·M + i] when transA; the strided reads of A are 4 per pass, a
    // 1/N fraction of the work, so the same loop order serves both.
    if (!accumulate) c.fill(0, 0, M * N);
    const si = transA ? 1 : K, sk = transA ? M : 1;
    for (let i = 0; i < M; i++) {
      const ci = i * N, ai = i * si;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        const a0 = a[ai + k * sk], a1 = a[ai + (k + 1) * sk], a2 = a[ai + (k + 2) * sk], a3 = a[ai + (k + 3) * sk];
        const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
        for (let j = 0; j < N; j++) c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
      }
      for (; k < K; k++) {
        const aik = a[ai + k * sk], bk = k * N;
        for (let j = 0; j < N; j++) c[ci + j] += aik * b[bk + j];
      }
    }
    return;
  }
  // transB: C[i, j] = Σ_k A(i, k) · B[j, k] — dot products along contiguous rows of B.
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let j = 0; j < N; j++) {
      const bj = j * K;
      let s = 0;
      if (transA) {
        for (let k = 0; k < K; k++) s += a[k * M + i] * b[bj + k];
      } else {
        const ai = i * K;
        let s1 = 0, s2 = 0, s3 = 0;
        let k = 0;
        for (; k + 3 < K; k += 4) {
          s += a[ai + k] * b[bj + k];
          s1 += a[ai + k + 1] * b[bj + k + 1];
          s2 += a[ai + k + 2] * b[bj + k + 2];
          s3 += a[ai + k + 3] * b[bj + k + 3];
        }
        for (; k < K; k++) s += a[ai + k] * b[bj + k];
        s += s1 + s2 + s3;
      }
      c[ci + j] = accumulate ? c[ci + j] + s : s;
    }
  }
}

function addRowVector(out: Float32Array, v: Float32Array, rows: number, cols: number): void {
  need("addRowVector out", out, rows * cols);
  need("addRowVector v", v, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] += v[j];
  }
}

function sumRows(out: Float32Array, a: Float32Array, rows: number, cols: number): void {
  need("sumRows out", out, cols);
  need("sumRows a", a, rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[j] += a[o + j];
  }
}

function activate(x: Float32Array, f: Nonlinearity, n: number): void {
  need("activate x", x, n);
  switch (f) {
    case "tanh":
      for (let i = 0; i < n; i++) x[i] = Math.tanh(x[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (!(x[i] > 0)) x[i] = 0;
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
      return;
  }
}

function activateBackward(d: Float32Array, y: Float32Array, f: Nonlinearity, n: number): void {
  need("activateBackward d", d, n);
  need("activateBackward y", y, n);
  switch (f) {
    case "tanh": // tanh' = 1 − y²
      for (let i = 0; i < n; i++) d[i] *= 1 - y[i] * y[i];
      return;
    case "relu": // relu' = [y > 0]
      for (let i = 0; i < n; i++) if (!(y[i] > 0)) d[i] = 0;
      return;
    case "sigmoid": // σ' = y(1 − y)
      for (let i = 0; i < n; i++) d[i] *= y[i] * (1 - y[i]);
      return;
  }
}

function softmaxCrossEntropy(logits: Float32Array, targets: Int32Array, rows: number, V: number): number {
  need("softmaxCrossEntropy logits", logits, rows * V);
  need("softmaxCrossEntropy targets", targets, rows);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    const zTarget = logits[o + targets[r]] - max;
    let sum = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(logits[o + j] - max);
      logits[o + j] = e;
      sum += e;
    }
    // −log y[k] = log Σ exp(ȳ − max) − (ȳ_k − max), from the float64 sum, not the rounded y.
    loss += Math.log(sum) - zTarget;
    const inv = 1 / sum;
    for (let j = 0; j < V; j++) logits[o + j] *= inv;
  }
  return loss;
}

function softmaxCrossEntropyBackward(y: Float32Array, targets: Int32Array, rows: number, V: number, scale: number): void {
  need("softmaxCrossEntropyBackward y", y, rows * V);
  need("softmaxCrossEntropyBackward targets", targets, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    y[o + targets[r]] -= 1;
    if (scale !== 1) for (let j = 0; j < V; j++) y[o + j] *= scale;
  }
}

function gatherColumns(out: Float32Array, W: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void {
  need("gatherColumns out", out, rows * H);
  need("gatherColumns W", W, H * V);
  need("gatherColumns ids", ids, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    const id = ids[r];
    for (let j = 0; j < H; j++) out[o + j] = W[j * V + id];
  }
}

function scatterAddColumns(dW: Float32Array, d: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void {
  need("scatterAddColumns dW", dW, H * V);
  need("scatterAddColumns d", d, rows * H);
  need("scatterAddColumns ids", ids, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    const id = ids[r];
    for (let j = 0; j < H; j++) dW[j * V + id] += d[o + j];
  }
}

function adamUpdate(
  p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, n: number,
  stepSize: number, sqrtBc2: number, beta1: number, beta2: number, eps: number,
): void {
  need("adamUpdate p", p, n);
  need("adamUpdate m", m, n);
  need("adamUpdate v", v, n);
  need("adamUpdate g", g, n);
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    // O5  m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g²   (the float64 values go on; the arrays keep float32)
    const mi = (m[i] = beta1 * m[i] + oneMinusBeta1 * gi);
    const vi = (v[i] = beta2 * v[i] + oneMinusBeta2 * gi * gi);
    // O5  p −= (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + ε)
    p[i] -= (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

/** The portable TypeScript kernels. Their arrays are ordinary typed arrays. */
export const portableKernels: Kernels = {
  name: "portable",
  allocate: (length: number): Float32Array => new Float32Array(length),
  free: (): void => {},
  isResident: (): boolean => true,
  gemm,
  addRowVector,
  sumRows,
  activate,
  activateBackward,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  gatherColumns,
  scatterAddColumns,
  adamUpdate,
};
