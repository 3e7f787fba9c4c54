/**
 * Linear layer over a block of rows: y = x Wᵀ + b (row-vector form of ȳ = W h + b).
 * Used for the softmax head's output layer (src/heads/softmax/layer.ts, F3: ȳ_t = W_o h_t + b_o
 * over all T·B rows at once) and for the input projection of stacked layers k > 0
 * (src/model/lm.ts, F1: W_i^(k) h_t^(k−1) over all rows).
 *
 * Shapes: x (rows, inF), W (outF, inF) row-major as PyTorch's nn.Linear, b (outF), y (rows, outF).
 */
import type { Kernels } from "../kernels/types.ts";

/**
 * y = x Wᵀ (+ b).
 * @param y output (rows, outF), overwritten
 * @param x input (rows, inF)
 * @param W weight (outF, inF)
 * @param b bias (outF) or undefined
 */
export function linearForward(
  y: Float32Array, x: Float32Array, W: Float32Array, b: Float32Array | undefined,
  rows: number, inF: number, outF: number, k: Kernels,
): void {
  // F3  ȳ = W h (+ b), one row per (t, b)
  k.gemm(y, x, W, rows, outF, inF, false, true, false);
  if (b !== undefined) k.addRowVector(y, b, rows, outF);
}

/**
 * Gradients of y = x Wᵀ + b: dW += dyᵀ x, db += Σ_rows dy, dx = dy W.
 * @param dx gradient with respect to x (rows, inF), overwritten; undefined to skip
 * @param dW gradient of W (outF, inF), accumulated
 * @param db gradient of b (outF), accumulated; undefined without bias
 * @param dy upstream gradient (rows, outF)
 * @param x forward input (rows, inF)
 * @param W weight (outF, inF)
 */
export function linearBackward(
  dx: Float32Array | undefined, dW: Float32Array, db: Float32Array | undefined,
  dy: Float32Array, x: Float32Array, W: Float32Array,
  rows: number, inF: number, outF: number, k: Kernels,
): void {
  // B2  dW += Σ_rows dy xᵀ   (dW_o += Σ_t dȳ_t h_tᵀ: the sum over t is the GEMM's inner dimension)
  k.gemm(dW, dy, x, outF, inF, rows, true, false, true);
  // B2  db += Σ_rows dy
  if (db !== undefined) k.sumRows(db, dy, rows, outF);
  // B3  dx = Wᵀ dy   (row form dy W)
  if (dx !== undefined) k.gemm(dx, dy, W, rows, inF, outF, false, false, false);
}
