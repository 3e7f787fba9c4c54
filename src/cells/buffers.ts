/** Memory layout helper shared by the cells' buffers and the model's. */

/** Round a count of floats up to a multiple of 16 (64 bytes: a cache line, four SIMD vectors). */
export function alignFloats(n: number): number {
  return Math.ceil(n / 16) * 16;
}
