/**
 * The browser loader (src/model/browser-kernels.ts), run in Node: it fetches the build that kernel
 * selection chooses (the FMA build where relaxed SIMD validates, unless BPTT_WASM_FMA=0), falls
 * back to the portable kernels with the reason, and trains on one thread where the runtime is not
 * cross-origin isolated (Node is not a page). In Chromium, with threads: test/e2e/playground.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { wasmRelaxedSimdSupported, type WasmKernels } from "../src/kernels/wasm.ts";
import { loadBrowserKernels } from "../src/model/browser-kernels.ts";

const wasmDataUrl = (file: string): string =>
  `data:application/wasm;base64,${readFileSync(join(import.meta.dirname, "..", "dist", "kernels", file)).toString("base64")}`;
const wasmUrl = wasmDataUrl("kernels.wasm");
const wasmFmaUrl = wasmDataUrl("kernels-fma.wasm");

describe("loadBrowserKernels", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("loads the FMA build where relaxed SIMD validates, else the SIMD one; one thread outside a cross-origin isolated page", async () => {
    const loaded = await loadBrowserKernels({ wasmUrl, wasmFmaUrl, threadWorker: () => { throw new Error("not started here"); } });
    expect(loaded.kernels.name).toBe("wasm");
    expect((loaded.kernels as WasmKernels).build).toBe(wasmRelaxedSimdSupported() ? "fma" : "simd");
    expect(loaded.portableReason).toBeUndefined();
    expect(loaded).toMatchObject({ threads: 1, oneThreadReason: "the page is not cross-origin isolated (no shared memory between threads)" });
    expect(wasmRelaxedSimdSupported()).toBe(true); // vitest.config.ts turns relaxed SIMD on: the line above chose "fma"
  });

  it("takes the SIMD build with BPTT_WASM_FMA=0, as kernel selection does", async () => {
    vi.stubEnv("BPTT_WASM_FMA", "0");
    const loaded = await loadBrowserKernels({ wasmUrl, wasmFmaUrl: "data:application/wasm;base64,AA==" });
    expect((loaded.kernels as WasmKernels).build).toBe("simd");
  });

  it("falls back to the portable kernels, saying why, when the module does not load", async () => {
    const loaded = await loadBrowserKernels({ wasmUrl, wasmFmaUrl: "data:application/wasm;base64,AA==" });
    expect(loaded.kernels.name).toBe("portable");
    expect(loaded.portableReason).toMatch(/^the WebAssembly kernels failed to load \(.+\)$/);
    expect(loaded).toMatchObject({ threads: 1, oneThreadReason: expect.stringMatching(/not cross-origin isolated/) });
  });
});
