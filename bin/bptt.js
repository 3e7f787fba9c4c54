#!/usr/bin/env node
// The `bptt` command: a thin launcher for the compiled CLI (built by `npm run build`, run by `npm ci`).
// Node 20's V8 has relaxed SIMD (the fused multiply-add build of the kernels, kernels-fma.wasm)
// behind a flag, which must be set before any WebAssembly is compiled: enableWasmFma sets it
// (BPTT_WASM_FMA=0 keeps it off and the kernels on their plain SIMD build).
import { enableWasmFma } from "../dist/kernels/fma-flag.js";

enableWasmFma();
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
