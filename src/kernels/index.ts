/**
 * Kernel selection: the one place that decides which implementation of `Kernels` runs.
 * The WebAssembly SIMD kernels when the runtime supports them (WebAssembly SIMD and shared memory)
 * and their module is built, else the portable TypeScript kernels. The environment variable
 * BPTT_KERNELS=portable|wasm (or `kernelsByName`) forces one, for tests and benchmarks.
 */
import { ConfigError } from "../errors.ts";
import { portableKernels } from "./portable.ts";
import type { Kernels } from "./types.ts";
import { createWasmKernels, wasmSimdSupported, type WasmKernels } from "./wasm.ts";

/** Names of the kernel implementations. */
export type KernelsName = "portable" | "wasm";

/** All implementations, slowest first. */
export const KERNELS_NAMES: readonly KernelsName[] = ["portable", "wasm"];

// One instance of the WebAssembly kernels per thread: all engines share its memory.
let wasm: WasmKernels | undefined;
let wasmError: Error | undefined;

/**
 * The WebAssembly kernels of this thread, created on first use.
 * @returns the shared instance
 * @throws Error explaining why they cannot run here
 */
export function wasmKernels(): WasmKernels {
  if (wasm !== undefined) return wasm;
  if (wasmError === undefined) {
    const unsupported = wasmUnsupportedReason();
    if (unsupported !== undefined) wasmError = new Error(unsupported);
    else {
      try {
        wasm = createWasmKernels();
        return wasm;
      } catch (e) {
        wasmError = e instanceof Error ? e : new Error(String(e));
      }
    }
  }
  throw wasmError;
}

/**
 * Why the WebAssembly kernels cannot run in this runtime, known before loading them: no
 * WebAssembly SIMD, or no shared memory, which browsers give only to cross-origin isolated pages.
 * (The browser loader, src/model/browser-kernels.ts, asks this too.)
 * @returns the reason, or undefined where they can run (given their module)
 */
export function wasmUnsupportedReason(): string | undefined {
  if (wasmSimdSupported()) return undefined;
  return globalThis.crossOriginIsolated === false
    ? "the page is not cross-origin isolated (no SharedArrayBuffer): serve it with COOP/COEP headers for the WebAssembly kernels"
    : "this runtime lacks WebAssembly SIMD or shared memory";
}

/**
 * @returns the kernel implementations that run in this runtime, slowest first
 */
export function availableKernels(): Kernels[] {
  const out: Kernels[] = [portableKernels];
  try {
    out.push(wasmKernels());
  } catch {
    // portable only
  }
  return out;
}

/**
 * One implementation by name.
 * @param name "portable" or "wasm"
 * @returns the kernels
 * @throws ConfigError for an unknown name or when the WebAssembly kernels cannot run here
 */
export function kernelsByName(name: string): Kernels {
  if (name === "portable") return portableKernels;
  if (name === "wasm") {
    try {
      return wasmKernels();
    } catch (e) {
      throw new ConfigError(`kernels "wasm" cannot run here: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  throw new ConfigError(`kernels: expected one of ${KERNELS_NAMES.join(", ")}; received ${JSON.stringify(name)}`);
}

/**
 * The kernels to use by default: BPTT_KERNELS when set, else the fastest available.
 * @returns the kernels
 * @throws ConfigError when BPTT_KERNELS names unknown kernels or ones that cannot run here
 */
export function defaultKernels(): Kernels {
  const forced = forcedKernels();
  if (forced !== undefined) return kernelsByName(forced);
  try {
    return wasmKernels();
  } catch {
    return portableKernels;
  }
}

/**
 * Why `defaultKernels` runs the portable kernels when nobody asked for them (BPTT_KERNELS unset):
 * the WebAssembly kernels' error (a runtime without WebAssembly SIMD or shared memory, a missing
 * or out-of-date .wasm). The portable kernels are correct but far slower (no SIMD, one thread),
 * so the commands say so instead of running slowly in silence.
 * @returns the reason, or undefined when the WebAssembly kernels run or BPTT_KERNELS chose
 */
export function portableFallbackReason(): string | undefined {
  if (forcedKernels() !== undefined) return undefined;
  try {
    wasmKernels();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** @returns the kernels BPTT_KERNELS names, or undefined when it is unset or empty */
function forcedKernels(): string | undefined {
  const forced = globalThis.process?.env?.["BPTT_KERNELS"];
  return forced === undefined || forced === "" ? undefined : forced;
}
