#!/usr/bin/env node
// The `bptt` command: a thin launcher for the compiled CLI (built by `npm run build`, run by `npm ci`).
// Node 20's V8 has relaxed SIMD (the fused multiply-add build of the kernels, kernels-fma.wasm)
// behind a flag, which must be set before any WebAssembly is compiled; Node 22 and later have it
// on. BPTT_WASM_FMA=0 keeps the flag off and the kernels on their plain SIMD build.
import { setFlagsFromString } from "node:v8";

if (process.env.BPTT_WASM_FMA !== "0" && Number(process.versions.node.split(".")[0]) < 22) {
  setFlagsFromString("--experimental-wasm-relaxed-simd");
}
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
