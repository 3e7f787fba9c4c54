/**
 * The WebAssembly kernels' memory: the allocator, views that survive growth, and the fallback for
 * arrays that live elsewhere. (Their arithmetic is checked in kernels.test.ts.)
 */
import { getHeapSpaceStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { ShapeError } from "../errors.ts";
import { portableKernels } from "./portable.ts";
import { attachWasmKernels, createWasmKernels, wasmSimdSupported } from "./wasm.ts";
import { WasmHeap } from "./wasm-heap.ts";

describe.runIf(wasmSimdSupported())("WebAssembly kernel memory", () => {
  it("views made before the memory grows stay valid and keep their values", () => {
    const k = createWasmKernels();
    const a = k.allocate(1000);
    a.fill(1.5);
    const pagesBefore = k.memory.buffer.byteLength / 65536;
    const big = k.allocate(8 * 1024 * 1024); // 32 MiB: forces memory.grow
    expect(k.memory.buffer.byteLength / 65536).toBeGreaterThan(pagesBefore);
    expect(a.length).toBe(1000); // not detached
    expect(a[999]).toBe(1.5);
    big[0] = 2;
    // the old view still drives the kernels, in place
    const c = k.allocate(1);
    k.gemm(c, a, a, 1, 1, 1000, false, true, false);
    expect(c[0]).toBe(1000 * 2.25);
    expect(k.isResident(a) && k.isResident(big) && k.isResident(c)).toBe(true);
    expect(k.fallbackCalls).toBe(0);
  });

  it("accepts plain arrays by falling back to the portable kernels", () => {
    const k = createWasmKernels();
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([1, 0, 0, 1, 1, 1]);
    const c = new Float32Array(4);
    expect(k.isResident(a)).toBe(false);
    k.gemm(c, a, b, 2, 2, 3, false, false, false);
    const want = new Float32Array(4);
    portableKernels.gemm(want, a, b, 2, 2, 3, false, false, false);
    expect(Array.from(c)).toEqual(Array.from(want));
    expect(k.fallbackCalls).toBe(1);
    // mixing resident and plain arrays also falls back
    const cr = k.allocate(4);
    k.gemm(cr, a, b, 2, 2, 3, false, false, false);
    expect(Array.from(cr)).toEqual(Array.from(want));
    expect(k.fallbackCalls).toBe(2);
  });

  it("runs the gated-cell kernels on plain arrays through the portable fallback, arguments in order", () => {
    const k = createWasmKernels();
    const rows = 2, H = 3, n = rows * H;
    // the same inputs twice: one set for the wasm object (plain arrays: it falls back), one for the portable kernels
    const make = (): Float32Array[] => [4 * n, n, n, n, 4 * n, 3 * n, 3 * n, 3 * n, 3 * n, n, n]
      .map((len, a) => Float32Array.from({ length: len }, (_, i) => Math.sin(7 * a + 1.3 * i) * 2));
    const run = (kk: typeof portableKernels, [gates, c, h, cPrev, dGates, xg, hProj, dx, dhProj, hPrev, dcPrev]: Float32Array[]): void => {
      kk.lstmCellForward(gates, c, h, cPrev, rows, H);
      kk.lstmCellBackward(dGates, dcPrev, cPrev, h, gates, c, cPrev.slice(), rows, H);
      kk.gruCellForward(xg, hProj, h, hPrev, rows, H);
      kk.gruCellBackward(dx, dhProj, c, h, xg, hProj, hPrev, rows, H);
    };
    const viaWasm = make(), viaPortable = make();
    run(k, viaWasm);
    run(portableKernels, viaPortable);
    expect(viaWasm.map((a) => Array.from(a))).toEqual(viaPortable.map((a) => Array.from(a)));
    expect(k.fallbackCalls).toBe(4);
  });

  it("takes the module as bytes or as a compiled WebAssembly.Module", async () => {
    const { readWasmModuleFile } = await import("./wasm.ts");
    const bytes = readWasmModuleFile();
    for (const module of [bytes, new WebAssembly.Module(bytes)]) {
      const k = createWasmKernels({ module });
      const x = k.allocate(3);
      x.set([-1, 0, 2]);
      k.activate(x, "relu", 3);
      expect(Array.from(x)).toEqual([0, 0, 2]);
    }
  });
});

  it("allocates nothing on the JS heap per call with integer sizes, so the time loop makes next to no garbage", () => {
    // hundreds of calls a step: at ~100 bytes a call the young generation grew for a whole run (the
    // soak). New-space bytes in use across 1,000 calls, after warm-up (optimized code): a trial with a
    // scavenge in it reads low, never high, so the largest of a few trials is the figure.
    const k = createWasmKernels();
    const x = k.allocate(64), y = k.allocate(64), c = k.allocate(64), a = k.allocate(64), b = k.allocate(64);
    const calls: [string, () => void][] = [
      ["activate", () => k.activate(x, "tanh", 8)],
      ["gemm", () => k.gemm(c, a, b, 8, 8, 8, false, true, true)],
      ["addRowVector", () => k.addRowVector(x, y, 8, 8)],
    ];
    // (a fractional argument is boxed on its way through, 16 bytes: adamUpdate's five, once a step)
    const newSpaceUsed = (): number => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_used_size ?? NaN;
    for (const [name, call] of calls) {
      for (let i = 0; i < 20_000; i++) call();
      let most = -Infinity;
      for (let trial = 0; trial < 5; trial++) {
        const before = newSpaceUsed();
        for (let i = 0; i < 1000; i++) call();
        most = Math.max(most, newSpaceUsed() - before);
      }
      expect(most / 1000, `${name}: bytes of JS heap a call`).toBeLessThan(8);
    }
  });

describe.runIf(wasmSimdSupported())("WebAssembly kernels attached to another instance's memory", () => {
  it("compute in place on the owner's arrays, see the memory grow, and cannot allocate", () => {
    const owner = createWasmKernels();
    const attached = attachWasmKernels({
      module: owner.module, memory: owner.memory, scratch: owner.heap.allocateBytes(owner.scratchBytes),
    });
    const a = owner.allocate(6), b = owner.allocate(6), c = owner.allocate(4);
    a.set([1, 2, 3, 4, 5, 6]);
    b.set([1, 0, 0, 1, 1, 1]);
    owner.gemm(c, a, b, 2, 2, 3, false, false, false);
    owner.allocate(8 * 1024 * 1024); // the memory grows after the owner's arrays were made
    const c2 = attached.floats(c.byteOffset, 4);
    const ids = attached.ints(owner.allocate(2).byteOffset, 2);
    expect(attached.isResident(c2) && attached.isResident(ids)).toBe(true);
    expect(attached.isResident(c)).toBe(false); // another thread's view object: not known here
    attached.gemm(c2, attached.floats(a.byteOffset, 6), attached.floats(b.byteOffset, 6), 2, 2, 3, false, false, true);
    expect(Array.from(c)).toEqual([8, 10, 20, 22]); // 2·(A·B), written through the attached instance
    expect(attached.fallbackCalls).toBe(0);
    expect(() => attached.allocate(1)).toThrowError(/cannot allocate: the thread that owns the memory allocates/);
  });
});

describe.runIf(wasmSimdSupported())("WasmHeap", () => {
  const heap = (): WasmHeap => new WasmHeap(new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true }), 100);

  it("aligns blocks to 64 bytes and starts after the base", () => {
    const h = heap();
    const a = h.allocate(3), b = h.allocate(17);
    expect(a.byteOffset).toBe(128);
    expect(b.byteOffset).toBe(192);
    expect(b.byteOffset % 64).toBe(0);
  });

  it("reuses freed blocks, coalesces neighbours, and zeroes what it hands out again", () => {
    const h = heap();
    const a = h.allocate(16), b = h.allocate(16), c = h.allocate(16), d = h.allocate(16);
    b.fill(7);
    h.free(b);
    h.free(c); // b and c merge into one 128-byte block
    const e = h.allocate(32);
    expect(e.byteOffset).toBe(b.byteOffset);
    expect(e.every((v) => v === 0)).toBe(true);
    h.free(d);
    h.free(e);
    h.free(a); // everything free: the heap shrinks back to its base
    expect(h.liveBytes).toBe(0);
    expect(h.highWater).toBe(128);
    h.free(a); // double free and foreign arrays are ignored
    h.free(new Float32Array(4));
  });

  it("refuses more than 4 GiB with a ShapeError that says what to do", () => {
    const h = heap();
    expect(() => h.allocate(2 ** 30 + 1)).toThrowError(ShapeError);
    expect(() => h.allocate(2 ** 30 + 1)).toThrowError(/limited to 4 GiB; use the portable kernels/);
    expect(() => h.allocate(-1)).toThrowError(/expected a length that is an integer ≥ 0; received -1/);
  });
});
