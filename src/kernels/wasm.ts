/**
 * The WebAssembly SIMD kernels: loads the module compiled from src/kernels/wasm/assembly/kernels.ts
 * (by `npm run build:wasm`, into dist/kernels/kernels.wasm) and wraps it in the `Kernels` interface.
 *
 * Memory: the module imports one shared memory; `allocate` hands out views into it (wasm-heap.ts
 * explains why shared: growth never invalidates a view). Each kernel passes the byte offsets of its
 * arrays to WebAssembly, so an array that lives in the memory is used in place, with no copy.
 * An array from anywhere else is still accepted: that call runs the portable kernel instead
 * (counted in `fallbackCalls`, so tests can check that the engine's hot path never does).
 *
 * Two builds of the same source: kernels.wasm (SIMD: separate multiply and add) and
 * kernels-fma.wasm (relaxed SIMD: the GEMM's inner loops as fused multiply-adds, f32x4.relaxed_madd).
 * The FMA build is chosen where the runtime validates relaxed SIMD (`wasmRelaxedSimdSupported`:
 * Chrome ≥ 114, Firefox, Node ≥ 22; Node 20 with --experimental-wasm-relaxed-simd, which the bptt
 * command sets for itself) unless BPTT_WASM_FMA=0. The builds differ at rounding level only; an
 * exact resume holds for the same build and thread count.
 *
 * Loading: synchronous. In Node the module is read from `kernels.wasm` / `kernels-fma.wasm` next
 * to this file (the built dist/kernels/), or from dist/kernels/ when running from source. Elsewhere (a browser
 * bundle) pass the bytes or, better, a `WebAssembly.Module` compiled asynchronously: browsers
 * refuse to compile large modules synchronously on the main thread.
 *
 * Threads: another thread runs the same kernels over the same memory with `attachWasmKernels`
 * (the module and the memory can be posted to a worker). The kernels keep no state in the memory
 * except gemm's packing scratch, which each thread gets as its own block; only the thread that
 * created the memory allocates in it (its WasmHeap is plain JavaScript state).
 */
import type { Nonlinearity } from "../model/config.ts";
import { need } from "./check.ts";
import { ConfigError } from "../errors.ts";
import { portableKernels as portable } from "./portable.ts";
import type { Kernels } from "./types.ts";
import { MAX_PAGES, WasmHeap } from "./wasm-heap.ts";

/** What the compiled module exports (see src/kernels/wasm/assembly/kernels.ts). */
interface KernelExports {
  fusedMultiplyAdd(): number;
  scratchFloats(): number;
  heapBase(): number;
  gemm(c: number, a: number, b: number, M: number, N: number, K: number,
    transA: number, transB: number, accumulate: number, scratch: number): void;
  addRowVector(out: number, v: number, rows: number, cols: number): void;
  sumRows(out: number, a: number, rows: number, cols: number): void;
  activate(x: number, f: number, n: number): void;
  activateBackward(d: number, y: number, f: number, n: number): void;
  lstmCellForward(gates: number, c: number, h: number, cPrev: number, rows: number, H: number): void;
  lstmCellBackward(dGates: number, dcPrev: number, dc: number, dh: number, gates: number, c: number, cPrev: number, rows: number, H: number): void;
  gruCellForward(gates: number, hProj: number, h: number, hPrev: number, rows: number, H: number): void;
  gruCellBackward(dx: number, dhProj: number, dhPrev: number, dh: number, gates: number, hProj: number, hPrev: number,
    rows: number, H: number): void;
  softmaxCrossEntropy(logits: number, targets: number, rows: number, V: number): number;
  softmaxCrossEntropyBackward(y: number, targets: number, rows: number, V: number, scale: number): void;
  gatherColumns(out: number, W: number, ids: number, rows: number, H: number, V: number): void;
  scatterAddColumns(dW: number, d: number, ids: number, rows: number, H: number, V: number): void;
  adamUpdate(p: number, m: number, v: number, g: number, n: number, stepSize: number, sqrtBc2: number,
    beta1: number, beta2: number, oneMinusBeta1: number, oneMinusBeta2: number, eps: number): void;
}

/** The WebAssembly kernels, with their memory. */
export interface WasmKernels extends Kernels {
  /** The shared memory every `allocate`d array lives in. */
  readonly memory: WebAssembly.Memory;
  /** The allocator over `memory`. */
  readonly heap: WasmHeap;
  /** The compiled module, for other threads to instantiate over `memory` (see `attachWasmKernels`). */
  readonly module: WebAssembly.Module;
  /** Which build the module is: "fma" (relaxed SIMD, fused multiply-add in the GEMM) or "simd". */
  readonly build: WasmBuild;
  /** Bytes of packing scratch that `gemm` needs per thread: allocate one block for each other thread. */
  readonly scratchBytes: number;
  /** Calls that ran the portable kernel because an argument was not in `memory`. */
  readonly fallbackCalls: number;
}

/** WebAssembly kernels running in another thread over memory that the creating thread owns. */
export interface AttachedWasmKernels extends Kernels {
  /** The shared memory (another thread's `WasmKernels.memory`). */
  readonly memory: WebAssembly.Memory;
  /** Calls that ran the portable kernel because an argument was not in `memory`. */
  readonly fallbackCalls: number;
  /**
   * A float32 view into the memory, which these kernels use in place.
   * @param byteOffset where it starts (an `allocate`d array's byteOffset in the owning thread)
   * @param length number of values
   * @returns the view
   */
  floats(byteOffset: number, length: number): Float32Array;
  /**
   * An int32 view into the memory (token ids), which these kernels use in place.
   * @param byteOffset where it starts
   * @param length number of values
   * @returns the view
   */
  ints(byteOffset: number, length: number): Int32Array;
}

/** What `attachWasmKernels` needs from the thread that owns the memory. */
export interface AttachOptions {
  /** `WasmKernels.module` of the owner. */
  readonly module: WebAssembly.Module;
  /** `WasmKernels.memory` of the owner. */
  readonly memory: WebAssembly.Memory;
  /** Byte offset of a block of `scratchBytes` the owner allocated for this thread alone. */
  readonly scratch: number;
}

/** Options of `createWasmKernels`. */
export interface WasmKernelsOptions {
  /**
   * The compiled module or its bytes. Default: read `kernels.wasm` next to this file (Node only).
   * A bundler can import the .wasm as a URL, fetch and compile it, and pass the Module here.
   */
  readonly module?: WebAssembly.Module | BufferSource;
  /** Without `module`: which build to read. Default `defaultWasmBuild()`. */
  readonly build?: WasmBuild;
}

/** The two builds of the kernels: kernels.wasm ("simd") and kernels-fma.wasm ("fma", relaxed SIMD). */
export type WasmBuild = "simd" | "fma";

const NONLINEARITY_CODE: Readonly<Record<Nonlinearity, number>> = { tanh: 0, relu: 1, sigmoid: 2 };

// A minimal module using a v128 instruction (i8x16.splat, i8x16.popcnt): valid only where SIMD is.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// A minimal module using f32x4.relaxed_madd on three v128.const zeros: valid only where relaxed SIMD is.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  ...[0, 1, 2].flatMap(() => [253, 12, ...new Array<number>(16).fill(0)]), 253, 133, 2, 11,
]);

/**
 * Whether this runtime runs relaxed SIMD (kernels-fma.wasm).
 * @returns true where `WebAssembly.validate` accepts f32x4.relaxed_madd
 */
export function wasmRelaxedSimdSupported(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * The build `createWasmKernels` reads by default: "fma" where relaxed SIMD validates, unless the
 * environment variable BPTT_WASM_FMA is "0"; "simd" otherwise.
 */
export function defaultWasmBuild(): WasmBuild {
  const off = globalThis.process?.env?.["BPTT_WASM_FMA"] === "0";
  return !off && wasmRelaxedSimdSupported() ? "fma" : "simd";
}

/**
 * Whether this runtime can run the WebAssembly kernels at all: SIMD and shared memory.
 * @returns true when `createWasmKernels` can be expected to work (given the module)
 */
export function wasmSimdSupported(): boolean {
  try {
    if (typeof WebAssembly !== "object" || !WebAssembly.validate(SIMD_PROBE)) return false;
    if (typeof SharedArrayBuffer !== "function") return false;
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * Read a compiled build shipped next to this file (Node).
 * @param build which build: kernels.wasm ("simd") or kernels-fma.wasm ("fma"); default `defaultWasmBuild()`
 * @returns its bytes
 * @throws Error when the file is missing (not built: run `npm run build:wasm`) or there is no file system
 */
export function readWasmModuleFile(build: WasmBuild = defaultWasmBuild()): Uint8Array<ArrayBuffer> {
  const file = build === "fma" ? "kernels-fma.wasm" : "kernels.wasm";
  const fs = globalThis.process?.getBuiltinModule?.("node:fs");
  if (fs === undefined) {
    throw new Error(`no file system to read ${file} from: pass the module to createWasmKernels({ module })`);
  }
  // dist/kernels/wasm.js → dist/kernels/kernels.wasm; src/kernels/wasm.ts (tests) → dist/kernels/kernels.wasm.
  // (@vite-ignore: a bundler must not try to resolve these; a page passes the module instead.)
  const candidates = [
    new URL(/* @vite-ignore */ `./${file}`, import.meta.url),
    new URL(/* @vite-ignore */ `../../dist/kernels/${file}`, import.meta.url),
  ];
  for (const url of candidates) {
    if (fs.existsSync(url)) return new Uint8Array(fs.readFileSync(url));
  }
  throw new Error(`${file} not found at ${candidates.map(String).join(" or ")}: run \`npm run build:wasm\``);
}

/**
 * Instantiate the WebAssembly kernels (synchronously) with a fresh memory.
 * @param options where the compiled module comes from
 * @returns kernels implementing the `Kernels` interface, plus their memory
 * @throws Error when the module is missing or the runtime lacks SIMD or shared memory
 */
export function createWasmKernels(options: WasmKernelsOptions = {}): WasmKernels {
  const source = options.module ?? readWasmModuleFile(options.build);
  const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const ex = instantiate(module, memory);
  const heap = new WasmHeap(memory, ex.heapBase());
  // Packing buffers of gemm, allocated once; the kernels themselves keep no state.
  const scratchBytes = ex.scratchFloats() * 4;
  const scratch = heap.allocateBytes(scratchBytes);
  const kernels: WasmKernels = bindKernels(ex, scratch, {
    memory, heap, module, scratchBytes, build: ex.fusedMultiplyAdd() === 1 ? "fma" : "simd",
    allocate: (length: number) => heap.allocate(length),
    free: (array: Float32Array) => heap.free(array),
    isResident: (array: ArrayBufferView) => heap.isResident(array),
  });
  return kernels;
}

/**
 * The WebAssembly kernels in another thread (a worker), over the memory of kernels that
 * `createWasmKernels` made in the thread that owns it. They compute exactly what the owner's
 * kernels compute. They cannot allocate: the owner allocates every array and passes its byte
 * offset; `floats` and `ints` make the views.
 * @param options the owner's module and memory, and this thread's scratch block
 * @returns the kernels
 */
export function attachWasmKernels(options: AttachOptions): AttachedWasmKernels {
  const { module, memory, scratch } = options;
  const ex = instantiate(module, memory);
  // Every ArrayBuffer object `memory.buffer` has returned here (one per size the memory had, as in WasmHeap).
  const buffers = new Set<ArrayBufferLike>();
  const buffer = (): ArrayBufferLike => {
    const b = memory.buffer;
    buffers.add(b);
    return b;
  };
  const kernels: AttachedWasmKernels = bindKernels(ex, scratch, {
    memory,
    floats: (byteOffset: number, length: number) => new Float32Array(buffer(), byteOffset, length),
    ints: (byteOffset: number, length: number) => new Int32Array(buffer(), byteOffset, length),
    allocate: (): Float32Array => {
      throw new ConfigError("attached WebAssembly kernels cannot allocate: the thread that owns the memory allocates, and passes byte offsets");
    },
    free: () => {},
    isResident: (array: ArrayBufferView) => buffers.has(array.buffer),
  });
  return kernels;
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** The memory side of a kernel set: where arrays come from, and which arrays the kernels use in place. */
type MemoryOps = Pick<Kernels, "allocate" | "free" | "isResident">;

/**
 * The `Kernels` interface over the module's exports: checks lengths, passes byte offsets of
 * resident arrays, falls back to the portable kernels otherwise.
 * @param ex the instance's exports
 * @param scratch byte offset of this thread's gemm scratch
 * @param extra the memory operations and whatever else the kernel object carries
 */
function bindKernels<E extends MemoryOps>(
  ex: KernelExports, scratch: number, extra: E,
): E & Omit<Kernels, keyof MemoryOps> & { readonly fallbackCalls: number } {
  let fallbackCalls = 0;
  const r = (a: ArrayBufferView): boolean => extra.isResident(a);

  return {
    ...extra,
    name: "wasm",
    get fallbackCalls(): number {
      return fallbackCalls;
    },
    gemm(c, a, b, M, N, K, transA, transB, accumulate) {
      need("gemm C", c, M * N);
      need("gemm A", a, M * K);
      need("gemm B", b, K * N);
      if (r(c) && r(a) && r(b)) {
        ex.gemm(c.byteOffset, a.byteOffset, b.byteOffset, M, N, K, +transA, +transB, +accumulate, scratch);
      } else {
        fallbackCalls++;
        portable.gemm(c, a, b, M, N, K, transA, transB, accumulate);
      }
    },
    addRowVector(out, v, rows, cols) {
      need("addRowVector out", out, rows * cols);
      need("addRowVector v", v, cols);
      if (r(out) && r(v)) ex.addRowVector(out.byteOffset, v.byteOffset, rows, cols);
      else {
        fallbackCalls++;
        portable.addRowVector(out, v, rows, cols);
      }
    },
    sumRows(out, a, rows, cols) {
      need("sumRows out", out, cols);
      need("sumRows a", a, rows * cols);
      if (r(out) && r(a)) ex.sumRows(out.byteOffset, a.byteOffset, rows, cols);
      else {
        fallbackCalls++;
        portable.sumRows(out, a, rows, cols);
      }
    },
    activate(x, f, n) {
      need("activate x", x, n);
      if (r(x)) ex.activate(x.byteOffset, NONLINEARITY_CODE[f], n);
      else {
        fallbackCalls++;
        portable.activate(x, f, n);
      }
    },
    activateBackward(d, y, f, n) {
      need("activateBackward d", d, n);
      need("activateBackward y", y, n);
      if (r(d) && r(y)) ex.activateBackward(d.byteOffset, y.byteOffset, NONLINEARITY_CODE[f], n);
      else {
        fallbackCalls++;
        portable.activateBackward(d, y, f, n);
      }
    },
    lstmCellForward(gates, c, h, cPrev, rows, H) {
      need("lstmCellForward gates", gates, rows * 4 * H);
      need("lstmCellForward c", c, rows * H);
      need("lstmCellForward h", h, rows * H);
      need("lstmCellForward cPrev", cPrev, rows * H);
      if (r(gates) && r(c) && r(h) && r(cPrev)) ex.lstmCellForward(gates.byteOffset, c.byteOffset, h.byteOffset, cPrev.byteOffset, rows, H);
      else {
        fallbackCalls++;
        portable.lstmCellForward(gates, c, h, cPrev, rows, H);
      }
    },
    lstmCellBackward(dGates, dcPrev, dc, dh, gates, c, cPrev, rows, H) {
      need("lstmCellBackward dGates", dGates, rows * 4 * H);
      need("lstmCellBackward dcPrev", dcPrev, rows * H);
      need("lstmCellBackward dc", dc, rows * H);
      need("lstmCellBackward dh", dh, rows * H);
      need("lstmCellBackward gates", gates, rows * 4 * H);
      need("lstmCellBackward c", c, rows * H);
      need("lstmCellBackward cPrev", cPrev, rows * H);
      if (r(dGates) && r(dcPrev) && r(dc) && r(dh) && r(gates) && r(c) && r(cPrev)) {
        ex.lstmCellBackward(dGates.byteOffset, dcPrev.byteOffset, dc.byteOffset, dh.byteOffset, gates.byteOffset, c.byteOffset, cPrev.byteOffset, rows, H);
      } else {
        fallbackCalls++;
        portable.lstmCellBackward(dGates, dcPrev, dc, dh, gates, c, cPrev, rows, H);
      }
    },
    gruCellForward(gates, hProj, h, hPrev, rows, H) {
      need("gruCellForward gates", gates, rows * 3 * H);
      need("gruCellForward hProj", hProj, rows * 3 * H);
      need("gruCellForward h", h, rows * H);
      need("gruCellForward hPrev", hPrev, rows * H);
      if (r(gates) && r(hProj) && r(h) && r(hPrev)) ex.gruCellForward(gates.byteOffset, hProj.byteOffset, h.byteOffset, hPrev.byteOffset, rows, H);
      else {
        fallbackCalls++;
        portable.gruCellForward(gates, hProj, h, hPrev, rows, H);
      }
    },
    gruCellBackward(dx, dhProj, dhPrev, dh, gates, hProj, hPrev, rows, H) {
      need("gruCellBackward dx", dx, rows * 3 * H);
      need("gruCellBackward dhProj", dhProj, rows * 3 * H);
      need("gruCellBackward dhPrev", dhPrev, rows * H);
      need("gruCellBackward dh", dh, rows * H);
      need("gruCellBackward gates", gates, rows * 3 * H);
      need("gruCellBackward hProj", hProj, rows * 3 * H);
      need("gruCellBackward hPrev", hPrev, rows * H);
      if (r(dx) && r(dhProj) && r(dhPrev) && r(dh) && r(gates) && r(hProj) && r(hPrev)) {
        ex.gruCellBackward(dx.byteOffset, dhProj.byteOffset, dhPrev.byteOffset, dh.byteOffset,
          gates.byteOffset, hProj.byteOffset, hPrev.byteOffset, rows, H);
      } else {
        fallbackCalls++;
        portable.gruCellBackward(dx, dhProj, dhPrev, dh, gates, hProj, hPrev, rows, H);
      }
    },
    softmaxCrossEntropy(logits, targets, rows, V) {
      need("softmaxCrossEntropy logits", logits, rows * V);
      need("softmaxCrossEntropy targets", targets, rows);
      if (r(logits) && r(targets)) return ex.softmaxCrossEntropy(logits.byteOffset, targets.byteOffset, rows, V);
      fallbackCalls++;
      return portable.softmaxCrossEntropy(logits, targets, rows, V);
    },
    softmaxCrossEntropyBackward(y, targets, rows, V, scale) {
      need("softmaxCrossEntropyBackward y", y, rows * V);
      need("softmaxCrossEntropyBackward targets", targets, rows);
      if (r(y) && r(targets)) ex.softmaxCrossEntropyBackward(y.byteOffset, targets.byteOffset, rows, V, scale);
      else {
        fallbackCalls++;
        portable.softmaxCrossEntropyBackward(y, targets, rows, V, scale);
      }
    },
    gatherColumns(out, W, ids, rows, H, V) {
      need("gatherColumns out", out, rows * H);
      need("gatherColumns W", W, H * V);
      need("gatherColumns ids", ids, rows);
      if (r(out) && r(W) && r(ids)) ex.gatherColumns(out.byteOffset, W.byteOffset, ids.byteOffset, rows, H, V);
      else {
        fallbackCalls++;
        portable.gatherColumns(out, W, ids, rows, H, V);
      }
    },
    scatterAddColumns(dW, d, ids, rows, H, V) {
      need("scatterAddColumns dW", dW, H * V);
      need("scatterAddColumns d", d, rows * H);
      need("scatterAddColumns ids", ids, rows);
      if (r(dW) && r(d) && r(ids)) ex.scatterAddColumns(dW.byteOffset, d.byteOffset, ids.byteOffset, rows, H, V);
      else {
        fallbackCalls++;
        portable.scatterAddColumns(dW, d, ids, rows, H, V);
      }
    },
    adamUpdate(p, m, v, g, n, stepSize, sqrtBc2, beta1, beta2, eps) {
      need("adamUpdate p", p, n);
      need("adamUpdate m", m, n);
      need("adamUpdate v", v, n);
      need("adamUpdate g", g, n);
      if (r(p) && r(m) && r(v) && r(g)) {
        // 1 − β as the portable kernel computes them, in float64 here
        ex.adamUpdate(p.byteOffset, m.byteOffset, v.byteOffset, g.byteOffset, n, stepSize, sqrtBc2, beta1, beta2, 1 - beta1, 1 - beta2, eps);
      } else {
        fallbackCalls++;
        portable.adamUpdate(p, m, v, g, n, stepSize, sqrtBc2, beta1, beta2, eps);
      }
    },
  };
}
