/**
 * Portable kernels in plain TypeScript: the readable definition of every kernel and the
 * fallback where WebAssembly SIMD is missing. Loop orders keep the innermost loop on
 * contiguous memory; sums of products over K run in float64 locals. Each checks its arrays' lengths
 * on entry against the kernel contract (src/kernels/contract.ts).
 */
import { checkLengths } from "./contract.ts";
import { PANEL, packedFloats } from "./packed.ts";
import type { Kernels, Nonlinearity } from "./types.ts";

function gemm(
  c: Float32Array, a: Float32Array, b: Float32Array,
  M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean,
): void {
  checkLengths("gemm", c, a, b, M, N, K, transA, transB, accumulate);
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

// op(B)[k, j] of a K×N op(B): B[k·N + j], or B[j·K + k] when transposed
function packB(packed: Float32Array, b: Float32Array, N: number, K: number, transB: boolean): void {
  checkLengths("packB", packed, b, N, K, transB);
  packed.fill(0, 0, packedFloats(N, K));
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < N; j++) {
      packed[Math.floor(j / PANEL) * K * PANEL + k * PANEL + (j % PANEL)] = transB ? b[j * K + k] : b[k * N + j];
    }
  }
}

// C[i, j] (+)= Σ_k op(A)[i, k] · op(B)[k, j], op(B) read from its panel: panel p holds columns
// p·PANEL.. as K rows of PANEL values
function gemmPacked(
  c: Float32Array, a: Float32Array, packed: Float32Array,
  M: number, N: number, K: number, transA: boolean, accumulate: boolean,
): void {
  checkLengths("gemmPacked", c, a, packed, M, N, K, transA, accumulate);
  const si = transA ? 1 : K, sk = transA ? M : 1;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const panel = Math.floor(j / PANEL) * K * PANEL + (j % PANEL);
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * si + k * sk] * packed[panel + k * PANEL];
      c[i * N + j] = accumulate ? c[i * N + j] + s : s;
    }
  }
}

function addRowVector(out: Float32Array, v: Float32Array, rows: number, cols: number): void {
  checkLengths("addRowVector", out, v, rows, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] += v[j];
  }
}

function sumRows(out: Float32Array, a: Float32Array, rows: number, cols: number): void {
  checkLengths("sumRows", out, a, rows, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) out[j] += a[o + j];
  }
}

function activate(x: Float32Array, f: Nonlinearity, n: number): void {
  checkLengths("activate", x, f, n);
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
  checkLengths("activateBackward", d, y, f, n);
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

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

// Gated cells. A row holds G blocks of H (LSTM [i | f | g | o], GRU [r | z | n]): element j of
// block q of row r is at r·G·H + q·H + j. Everything is computed in float64 locals from the stored
// float32 values, and each element reads all it needs before writing (the aliasing the interface allows).

function lstmCellForward(gates: Float32Array, c: Float32Array, h: Float32Array, cPrev: Float32Array, rows: number, H: number): void {
  checkLengths("lstmCellForward", gates, c, h, cPrev, rows, H);
  for (let r = 0; r < rows; r++) {
    const gr = r * 4 * H, o = r * H;
    for (let j = 0; j < H; j++) {
      const pi = gr + j, pf = pi + H, pg = pf + H, po = pg + H, k = o + j;
      // L2  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
      const iv = sigmoid(gates[pi]), fv = sigmoid(gates[pf]), gv = Math.tanh(gates[pg]), ov = sigmoid(gates[po]);
      gates[pi] = iv;
      gates[pf] = fv;
      gates[pg] = gv;
      gates[po] = ov;
      // L3  c_t = f ⊙ c_{t−1} + i ⊙ g
      const ct = fv * cPrev[k] + iv * gv;
      c[k] = ct;
      // L4  h_t = o ⊙ tanh(c_t)
      h[k] = ov * Math.tanh(ct);
    }
  }
}

function lstmCellBackward(
  dGates: Float32Array, dcPrev: Float32Array, dc: Float32Array, dh: Float32Array,
  gates: Float32Array, c: Float32Array, cPrev: Float32Array, rows: number, H: number,
): void {
  checkLengths("lstmCellBackward", dGates, dcPrev, dc, dh, gates, c, cPrev, rows, H);
  for (let r = 0; r < rows; r++) {
    const gr = r * 4 * H, o = r * H;
    for (let j = 0; j < H; j++) {
      const pi = gr + j, pf = pi + H, pg = pf + H, po = pg + H, k = o + j;
      const iv = gates[pi], fv = gates[pf], gv = gates[pg], ov = gates[po]; // read before dGates (maybe gates) is written
      const dhk = dh[k];
      // L4  h_t = o ⊙ tanh(c_t): tanh(c_t) recomputed
      const tc = Math.tanh(c[k]);
      // L6  dc_t = dc (carried from t+1) + dh ⊙ o ⊙ (1 − tanh²(c_t))
      const dct = dc[k] + dhk * ov * (1 - tc * tc);
      // L7  da_i = dc_t ⊙ g ⊙ i(1−i);  da_f = dc_t ⊙ c_{t−1} ⊙ f(1−f);  da_g = dc_t ⊙ i ⊙ (1−g²);  da_o = dh ⊙ tanh(c_t) ⊙ o(1−o)
      dGates[pi] = dct * gv * iv * (1 - iv);
      dGates[pf] = dct * cPrev[k] * fv * (1 - fv);
      dGates[pg] = dct * iv * (1 - gv * gv);
      dGates[po] = dhk * tc * ov * (1 - ov);
      // L6  dc_t kept;  L9  carry to step t−1: f ⊙ dc_t
      dc[k] = dct;
      dcPrev[k] = fv * dct;
    }
  }
}

function gruCellForward(gates: Float32Array, hProj: Float32Array, h: Float32Array, hPrev: Float32Array, rows: number, H: number): void {
  checkLengths("gruCellForward", gates, hProj, h, hPrev, rows, H);
  for (let r = 0; r < rows; r++) {
    const gr = r * 3 * H, o = r * H;
    for (let j = 0; j < H; j++) {
      const pr = gr + j, pz = pr + H, pn = pz + H, k = o + j;
      // G2  r = σ(a^x_r + a^h_r), z = σ(a^x_z + a^h_z)
      const rv = sigmoid(gates[pr] + hProj[pr]);
      const zv = sigmoid(gates[pz] + hProj[pz]);
      // G3  n = tanh(a^x_n + r ⊙ a^h_n)
      const nv = Math.tanh(gates[pn] + rv * hProj[pn]);
      gates[pr] = rv;
      gates[pz] = zv;
      gates[pn] = nv;
      // G4  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
      h[k] = (1 - zv) * nv + zv * hPrev[k];
    }
  }
}

function gruCellBackward(
  dx: Float32Array, dhProj: Float32Array, dhPrev: Float32Array, dh: Float32Array,
  gates: Float32Array, hProj: Float32Array, hPrev: Float32Array, rows: number, H: number,
): void {
  checkLengths("gruCellBackward", dx, dhProj, dhPrev, dh, gates, hProj, hPrev, rows, H);
  for (let r = 0; r < rows; r++) {
    const gr = r * 3 * H, o = r * H;
    for (let j = 0; j < H; j++) {
      const pr = gr + j, pz = pr + H, pn = pz + H, k = o + j;
      // read before dx (maybe gates) and dhProj (maybe hProj) are written
      const rv = gates[pr], zv = gates[pz], nv = gates[pn], ahn = hProj[pn], dhk = dh[k];
      // G6  dn = dh ⊙ (1 − z);  dz = dh ⊙ (h_{t−1} − n)
      const dn = dhk * (1 - zv);
      const dz = dhk * (hPrev[k] - nv);
      // G7  da^x_n = dn ⊙ (1 − n²);  da^h_n = da^x_n ⊙ r;  dr = da^x_n ⊙ a^h_n
      const daxn = dn * (1 - nv * nv);
      const dr = daxn * ahn;
      // G8  da_r = dr ⊙ r(1−r);  da_z = dz ⊙ z(1−z)   (the same for a^x and a^h)
      const dar = dr * rv * (1 - rv);
      const daz = dz * zv * (1 - zv);
      dx[pr] = dar;
      dx[pz] = daz;
      dx[pn] = daxn;
      dhProj[pr] = dar;
      dhProj[pz] = daz;
      dhProj[pn] = daxn * rv;
      // G10 the direct part of dh_{t−1}: z ⊙ dh
      dhPrev[k] = zv * dhk;
    }
  }
}

function softmaxCrossEntropy(logits: Float32Array, targets: Int32Array, rows: number, V: number): number {
  checkLengths("softmaxCrossEntropy", logits, targets, rows, V);
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
  checkLengths("softmaxCrossEntropyBackward", y, targets, rows, V, scale);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    y[o + targets[r]] -= 1;
    if (scale !== 1) for (let j = 0; j < V; j++) y[o + j] *= scale;
  }
}

function gatherColumns(out: Float32Array, W: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void {
  checkLengths("gatherColumns", out, W, ids, rows, H, V);
  for (let r = 0; r < rows; r++) {
    const o = r * H;
    const id = ids[r];
    for (let j = 0; j < H; j++) out[o + j] = W[j * V + id];
  }
}

function scatterAddColumns(dW: Float32Array, d: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void {
  checkLengths("scatterAddColumns", dW, d, ids, rows, H, V);
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
  checkLengths("adamUpdate", p, m, v, g, n, stepSize, sqrtBc2, beta1, beta2, eps);
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
  packB,
  gemmPacked,
  addRowVector,
  sumRows,
  activate,
  activateBackward,
  lstmCellForward,
  lstmCellBackward,
  gruCellForward,
  gruCellBackward,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  gatherColumns,
  scatterAddColumns,
  adamUpdate,
};
