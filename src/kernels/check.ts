/**
 * Length checks shared by every kernel implementation (STYLE §4: kernels check lengths once on entry).
 */
import { ShapeError } from "../errors.ts";

/**
 * Throw unless `a` holds at least `n` values.
 * @param name what the array is, for the message ("gemm A")
 * @param a the array
 * @param n values the kernel will read or write
 * @throws ShapeError naming the array, its length and the length expected
 */
export function need(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length < n) throw new ShapeError(`${name} has ${a.length} values; expected at least ${n}`);
}
