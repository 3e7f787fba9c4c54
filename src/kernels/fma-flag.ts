/**
 * The one place that turns on relaxed SIMD in a Node that has it behind a flag, so that the
 * kernels can load their fused multiply-add build (kernels-fma.wasm; src/kernels/wasm.ts chooses
 * it where `WebAssembly.validate` accepts relaxed SIMD). Node 20 and 21 have it behind V8's
 * `--experimental-wasm-relaxed-simd`; Node 22 and later have it on. V8 reads the flag when it
 * compiles a module, so this must run before any WebAssembly is compiled in the process (worker
 * threads share the process's flags). BPTT_WASM_FMA=0 leaves it off: the plain SIMD build then.
 *
 * Node only (node:v8), so not part of the library's entry: the `bptt` command (bin/bptt.js),
 * `npm run bench` and bench/compare call it, so that each runs the kernels the command runs.
 */
import { setFlagsFromString } from "node:v8";

/** The first Node major version with relaxed SIMD on by default. */
const RELAXED_SIMD_DEFAULT_FROM = 22;

/**
 * Sets V8's relaxed-SIMD flag where this Node needs it, unless BPTT_WASM_FMA is "0".
 * @returns whether the flag was set (false: not needed, or turned off)
 */
export function enableWasmFma(): boolean {
  if (process.env["BPTT_WASM_FMA"] === "0") return false;
  if (Number(process.versions.node.split(".")[0]) >= RELAXED_SIMD_DEFAULT_FROM) return false;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  return true;
}
