/** Memory layout helpers shared by the cells' buffers and the model's. */

/** Round a count of floats up to a multiple of 16 (64 bytes: a cache line, four SIMD vectors). */
export function alignFloats(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/**
 * Per-step views of a time-major array, made once when the buffers are made.
 * @param a (count·width) values
 * @param count number of steps
 * @param width values per step (B·H, or B·G·H)
 * @returns views[t] = a[t·width, (t+1)·width)
 */
export function stepViews(a: Float32Array, count: number, width: number): Float32Array[] {
  return Array.from({ length: count }, (_, t) => a.subarray(t * width, (t + 1) * width));
}
