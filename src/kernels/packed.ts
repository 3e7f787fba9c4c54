/**
 * The packed form of a matrix operand, shared by every kernel set (`Kernels.packB`,
 * `Kernels.gemmPacked`): op(B) (K×N) cut into column panels PANEL wide, each panel K×PANEL row-major
 * (element (k, j) of op(B) at panel ⌊j/PANEL⌋, offset k·PANEL + j mod PANEL), the last panel
 * zero-padded. It is the layout the WebAssembly GEMM's micro-kernel reads (NR = PANEL columns per
 * register tile), so a weight that many products share — the recurrent W_hh, for every step of a
 * chunk — is packed once instead of once per product. One definition, so that buffers can be
 * sized without knowing which kernels will run on them.
 */

/** Columns per packed panel (the WebAssembly micro-kernel's NR). */
export const PANEL = 8;

/**
 * @param N columns of op(B)
 * @param K rows of op(B)
 * @returns floats of op(B) packed: K rows of N rounded up to whole panels
 */
export function packedFloats(N: number, K: number): number {
  return K * Math.ceil(N / PANEL) * PANEL;
}
