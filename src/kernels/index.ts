/**
 * Kernel selection: the one place that decides which implementation of `Kernels` runs.
 * Only the portable TypeScript kernels exist so far; a WebAssembly SIMD version will be
 * chosen here when the runtime supports it.
 */
import { portableKernels } from "./portable.ts";
import type { Kernels } from "./types.ts";

/** @returns the fastest kernels available in this runtime */
export function defaultKernels(): Kernels {
  return portableKernels;
}
