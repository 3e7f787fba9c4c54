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
import { ConfigError } from "../errors.ts";
import {
  contractOf, need, KERNEL_CONTRACT, NONLINEARITY_CODE, MAX_KERNEL_ARGS, MAX_KERNEL_ARRAYS, MAX_KERNEL_SCALARS,
  type KernelArgValue, type KernelName,
} from "./contract.ts";
import { portableKernels } from "./portable.ts";
import type { Kernels, Nonlinearity } from "./types.ts";
import { MAX_PAGES, WasmHeap } from "./wasm-heap.ts";

/**
 * What the compiled module exports (see src/kernels/wasm/assembly/kernels.ts): each kernel under
 * its interface name, taking numbers (byte offsets, sizes, 0/1 flags, codes: the kernel contract of
 * src/kernels/contract.ts), and three queries.
 */
export type KernelExports = { readonly [K in KernelName]: (...args: number[]) => number | undefined } & {
  fusedMultiplyAdd(): number;
  scratchFloats(): number;
  heapBase(): number;
};

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
 * The `Kernels` interface over the module's exports, from the kernel contract (src/kernels/contract.ts):
 * each call checks the lengths, and passes byte offsets when every array is resident, or else runs
 * the portable kernel. Exported for src/kernels/contract.test.ts, which binds stand-in exports.
 * @param ex the instance's exports
 * @param scratch byte offset of this thread's gemm scratch
 * @param extra the memory operations and whatever else the kernel object carries
 * @returns the kernels, with `extra`'s members and the count of portable fallbacks
 * @throws Error when the module's functions do not take the contract's arguments (an out-of-date build)
 */
export function bindKernels<E extends MemoryOps>(
  ex: KernelExports, scratch: number, extra: E,
): E & Omit<Kernels, keyof MemoryOps> & { readonly fallbackCalls: number } {
  let fallbackCalls = 0;
  const kernels = {
    ...extra,
    name: "wasm",
    get fallbackCalls(): number {
      return fallbackCalls;
    },
  };
  const onFallback = (): void => {
    fallbackCalls++;
  };
  for (const name of Object.keys(KERNEL_CONTRACT) as KernelName[]) {
    Object.defineProperty(kernels, name, {
      value: bindKernel(name, ex, scratch, extra.isResident, onFallback),
      enumerable: true,
    });
  }
  // every KernelName was defined just above
  return kernels as E & Omit<Kernels, keyof MemoryOps> & { readonly fallbackCalls: number };
}

/**
 * @param name a kernel
 * @returns how many numbers the module's function of that kernel takes: the contract's arguments,
 *   and the scratch after them when the kernel takes it
 */
export function moduleArity(name: KernelName): number {
  const line = contractOf(name);
  return line.arrays.length + line.scalars.length + (line.moduleScratch ? 1 : 0);
}

/** Most numbers a module's function takes (`callWith` spells out every count up to it): a kernel's most arguments and the scratch. */
export const MAX_MODULE_ARGS = MAX_KERNEL_ARGS + 1;

/**
 * f(...n) with the arguments spelled out: V8 calls a WebAssembly function with a fixed argument
 * count directly, where a spread call takes a generic path. Per-call overhead counts at the S
 * shape (hundreds of kernel calls of a microsecond or less per step): with this, the reuse of
 * `numbers` and the inline length test, the table-driven binding measured as fast as hand-written
 * wrappers (S step within 1 %; spread calls and per-call arrays had cost 6–8 %).
 * Exported for src/kernels/contract.test.ts.
 * @param f a kernel of the module
 * @param n its arguments (1 to MAX_MODULE_ARGS of them)
 * @returns what f returns
 * @throws Error for any other count (`bindKernel` refuses such a kernel first)
 */
export function callWith(f: (...args: number[]) => number | undefined, n: readonly number[]): number | undefined {
  switch (n.length) {
    case 1: return f(n[0]);
    case 2: return f(n[0], n[1]);
    case 3: return f(n[0], n[1], n[2]);
    case 4: return f(n[0], n[1], n[2], n[3]);
    case 5: return f(n[0], n[1], n[2], n[3], n[4]);
    case 6: return f(n[0], n[1], n[2], n[3], n[4], n[5]);
    case 7: return f(n[0], n[1], n[2], n[3], n[4], n[5], n[6]);
    case 8: return f(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]);
    case 9: return f(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8]);
    case 10: return f(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9]);
    case 11: return f(n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10]);
    default: throw new Error(`callWith: no case for ${n.length} arguments; expected 1 to ${MAX_MODULE_ARGS}`);
  }
}

/**
 * One kernel of `bindKernels`.
 * @param name the kernel
 * @param ex the instance's exports
 * @param scratch byte offset of this thread's gemm scratch
 * @param isResident whether the module uses an array in place
 * @param onFallback called when a call runs the portable kernel
 * @returns the kernel, with the signature of `Kernels[name]`
 */
function bindKernel<K extends KernelName>(
  name: K, ex: KernelExports, scratch: number, isResident: (a: ArrayBufferView) => boolean, onFallback: () => void,
): Kernels[K] {
  const line = contractOf(name);
  const arrayCount = line.arrays.length, scalarCount = line.scalars.length, arity = arrayCount + scalarCount;
  if (arity > MAX_KERNEL_ARGS || arrayCount > MAX_KERNEL_ARRAYS || scalarCount > MAX_KERNEL_SCALARS) {
    throw new Error(
      `${name}: a kernel takes at most ${MAX_KERNEL_ARGS} arguments, ${MAX_KERNEL_ARRAYS} of them arrays and ` +
        `${MAX_KERNEL_SCALARS} after them (src/kernels/contract.ts, bindKernel)`,
    );
  }
  const arrayNames = line.arrays.map((a) => `${name} ${a.name}`);
  const scalarKinds = line.scalars.map((a) => a.kind);
  const inModule = ex[name];
  if (inModule.length !== moduleArity(name)) {
    throw new Error(`the WebAssembly module's ${name} takes ${inModule.length} arguments, not ${moduleArity(name)}: the module is out of date; run \`npm run build:wasm\``);
  }
  // the portable kernel has the same signature; called with the same arguments
  const inPortable = portableKernels[name] as (...args: readonly KernelArgValue[]) => number | undefined;
  // Everything a call needs is made here, once, and reused (a kernel runs to completion, never
  // re-entered): the call's arguments, the arrays' lengths, the module's numbers (gemm's scratch
  // last, once). A call allocates nothing — at hundreds of calls a step, rest parameters and returned
  // length lists were ~90 KiB of garbage a step, and the young generation grew under it for a whole run (the soak's RSS).
  // (room for MAX_KERNEL_SCALARS scalars after MAX_KERNEL_ARRAYS arrays, which `lengthsOf` is passed)
  const list = new Array<KernelArgValue>(MAX_KERNEL_ARRAYS + MAX_KERNEL_SCALARS).fill(0);
  const lengths = new Array<number>(MAX_KERNEL_ARRAYS).fill(0);
  const numbers = new Array<number>(inModule.length).fill(0);
  if (line.moduleScratch) numbers[numbers.length - 1] = scratch;
  const lengthsOf = line.lengths;
  const kernel = (a0: KernelArgValue, a1: KernelArgValue, a2: KernelArgValue, a3: KernelArgValue, a4: KernelArgValue, a5: KernelArgValue, a6: KernelArgValue, a7: KernelArgValue, a8: KernelArgValue, a9: KernelArgValue): number | undefined => {
    list[0] = a0; list[1] = a1; list[2] = a2; list[3] = a3; list[4] = a4; list[5] = a5; list[6] = a6; list[7] = a7; list[8] = a8; list[9] = a9;
    const s = arrayCount; // the scalars start here
    lengthsOf(lengths, list[s], list[s + 1], list[s + 2], list[s + 3], list[s + 4], list[s + 5]);
    let resident = true;
    // the arrays come first (outputs, then inputs): each as its byte offset
    for (let i = 0; i < arrayCount; i++) {
      const x = list[i] as Float32Array | Int32Array;
      const n = lengths[i];
      if (x.length < n) need(arrayNames[i], x, n);
      resident &&= isResident(x);
      numbers[i] = x.byteOffset;
    }
    // then sizes and factors as they are, flags as 0/1, a nonlinearity as its code
    for (let i = 0; i < scalarCount; i++) {
      const x = list[s + i], kind = scalarKinds[i];
      numbers[s + i] = kind === "flag" ? +(x as boolean) : kind === "nonlinearity" ? NONLINEARITY_CODE[x as Nonlinearity] : (x as number);
    }
    const call = resident ? undefined : list.slice(0, arity);
    list.fill(0, 0, arrayCount); // the kernels keep no caller's array alive between calls
    if (call !== undefined) {
      onFallback();
      return inPortable(...call);
    }
    return callWith(inModule, numbers);
  };
  // a function of MAX_KERNEL_ARGS arguments is Kernels[K] for every K; TypeScript cannot see it for a generic K
  return kernel as unknown as Kernels[K];
}
