import { defineConfig } from "vitest/config";
import { PACKAGE_ALIASES } from "./web/vite.config.ts";

export default defineConfig({
  // the playground's modules import the package by its name, as its page does
  resolve: { alias: [...PACKAGE_ALIASES] },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    // Node 20 has relaxed SIMD behind a flag (bin/bptt.js sets it for the CLI): on, so that the
    // tests run the FMA build of the kernels (kernels-fma.wasm) as the CLI does; the plain build
    // is tested beside it (src/kernels/kernels.test.ts)
    poolOptions: { forks: { execArgv: ["--experimental-wasm-relaxed-simd"] } },
  },
});
