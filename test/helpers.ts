/**
 * Shared test helpers: comparing a float32 result with the float64 oracle, tensor by tensor.
 */
import type { ModelConfig } from "../src/model/config.ts";
import { paramSpecs, type FloatArray } from "../src/model/params.ts";

/** ‖a − b‖₂ / max(‖a‖₂, ‖b‖₂, tiny): the normwise relative error of two arrays of equal length. */
export function normwiseRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d2 = 0, a2 = 0, b2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    d2 += d * d;
    a2 += a[i] * a[i];
    b2 += b[i] * b[i];
  }
  return Math.sqrt(d2) / Math.max(Math.sqrt(a2), Math.sqrt(b2), 1e-30);
}

/**
 * Per-tensor normwise relative errors of flat gradients in the paramSpecs layout.
 * @returns tensor name → error
 */
export function errorsByTensor(config: ModelConfig, got: FloatArray, want: FloatArray): Map<string, number> {
  const errors = new Map<string, number>();
  for (const s of paramSpecs(config)) {
    errors.set(s.name, normwiseRelError(got.subarray(s.offset, s.offset + s.size), want.subarray(s.offset, s.offset + s.size)));
  }
  return errors;
}

/** Every combination of the values of each key. */
export function grid<T extends Record<string, readonly unknown[]>>(axes: T): { [K in keyof T]: T[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(axes)) {
    out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  }
  return out as { [K in keyof T]: T[K][number] }[];
}
