/**
 * Gradient clipping and a divergence check over one flat gradient array (docs/architecture.md, Parameters).
 *
 *   C1  elementwise   g_i = min(max(g_i, −limit), limit)          min-char-rnn's np.clip
 *   C2  global norm   ‖g‖ = √(Σ_i g_i²)                           accumulated in float64
 *   C3  norm clip     g ·= min(1, maxNorm / (‖g‖ + 1e-6))         torch.nn.utils.clip_grad_norm_
 */
import { ConfigError } from "../errors.ts";

/**
 * Clip every gradient to [−limit, limit] in place (C1). NaN stays NaN, for `allFinite` to find.
 * @param grads gradients, updated in place
 * @param limit bound, finite and > 0 (min-char-rnn uses 5)
 * @throws ConfigError when limit is out of range
 */
export function clipElementwise(grads: Float32Array, limit: number): void {
  if (!(Number.isFinite(limit) && limit > 0)) {
    throw new ConfigError(`clip limit: expected a finite number > 0; received ${String(limit)}`);
  }
  const n = grads.length;
  const lo = -limit;
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    // C1  g = min(max(g, −limit), limit)
    if (g > limit) grads[i] = limit;
    else if (g < lo) grads[i] = lo;
  }
}

/**
 * The Euclidean norm of all gradients (C2), summed in float64.
 * @param grads gradients
 * @returns √(Σ g²); Infinity or NaN when a gradient is not finite
 */
export function globalNorm(grads: Float32Array): number {
  const n = grads.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    // C2  Σ g²  (a float32 squared cannot overflow a float64)
    sum += g * g;
  }
  return Math.sqrt(sum);
}

/**
 * Scale all gradients in place so that their global norm is at most maxNorm (C3), with
 * PyTorch's clip_grad_norm_ semantics: the factor is maxNorm / (norm + 1e-6), applied when it is
 * below 1. When the norm is not finite the gradients are left alone; check the returned norm
 * (or `allFinite`) and stop training.
 * @param grads gradients, updated in place
 * @param maxNorm largest allowed norm, finite and > 0
 * @returns the norm before clipping
 * @throws ConfigError when maxNorm is out of range
 */
export function clipGlobalNorm(grads: Float32Array, maxNorm: number): number {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) {
    throw new ConfigError(`clip maxNorm: expected a finite number > 0; received ${String(maxNorm)}`);
  }
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) return norm;
  // C3  g ·= min(1, maxNorm / (‖g‖ + 1e-6))
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    const n = grads.length;
    for (let i = 0; i < n; i++) grads[i] *= scale;
  }
  return norm;
}

/**
 * Whether every value is finite (no NaN, no ±Infinity), for divergence detection.
 * Branch-free: x·0 is 0 for every finite x and NaN otherwise, and NaN survives the sum.
 * @param a values to check
 * @returns true when all values are finite (also for an empty array)
 */
export function allFinite(a: Float32Array): boolean {
  const n = a.length;
  let acc = 0;
  for (let i = 0; i < n; i++) acc += a[i] * 0;
  return acc === 0;
}
