/**
 * The kernel contract (contract.ts) against everything that must agree with it: the portable
 * kernels and the compiled module take each kernel's arguments; the WebAssembly binding passes
 * them in order, marshalled, through a call case of their count; both implementations check every
 * array's length, read and write nothing beyond it, and write exactly the arrays marked written;
 * and the nonlinearity codes are the AssemblyScript source's constants.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ShapeError } from "../errors.ts";
import { Rng } from "../rng.ts";
import {
  contractOf, KERNEL_CONTRACT, MAX_KERNEL_ARGS, MAX_KERNEL_ARRAYS, MAX_KERNEL_SCALARS, NONLINEARITY_CODE,
  type AnyKernelContract, type KernelArgValue, type KernelName,
} from "./contract.ts";
import { portableKernels } from "./portable.ts";
import type { Kernels, Nonlinearity } from "./types.ts";
import {
  bindKernels, callWith, createWasmKernels, MAX_MODULE_ARGS, moduleArity, readWasmModuleFile,
  wasmRelaxedSimdSupported, wasmSimdSupported, type KernelExports, type WasmBuild,
} from "./wasm.ts";

const KERNEL_NAMES = Object.keys(KERNEL_CONTRACT) as KernelName[];
/** What the module exports besides the kernels (KernelExports). */
const MODULE_QUERIES = ["fusedMultiplyAdd", "scratchFloats", "heapBase"];

const arityOf = (line: AnyKernelContract): number => line.arrays.length + line.scalars.length;

/**
 * The scalar arguments of a test call: sizes 2, 3, 4, … by position (so that a length formula that
 * swaps two sizes gives another length), factors 0.5, flags alternating from true, nonlinearity
 * sigmoid (a code other than 0, which a lost code would become).
 */
function scalarsOf(line: AnyKernelContract): KernelArgValue[] {
  return line.scalars.map((s, i) => {
    switch (s.kind) {
      case "size": return 2 + i;
      case "factor": return 0.5;
      case "flag": return i % 2 === 0;
      case "nonlinearity": return "sigmoid";
    }
  });
}

/** The arrays' lengths the contract states for `scalars`. */
function lengthsOf(line: AnyKernelContract, scalars: readonly KernelArgValue[]): number[] {
  const out: number[] = [];
  line.lengths(out, ...scalars);
  return out.slice(0, line.arrays.length);
}

describe("the kernel contract", () => {
  it("names exactly the kernels of the portable implementation, within the limits its callers spell out", () => {
    const memoryOps = ["name", "allocate", "free", "isResident"];
    expect([...KERNEL_NAMES].sort()).toEqual(Object.keys(portableKernels).filter((n) => !memoryOps.includes(n)).sort());
    for (const name of KERNEL_NAMES) {
      const line = contractOf(name);
      expect(arityOf(line), name).toBeLessThanOrEqual(MAX_KERNEL_ARGS);
      expect(line.arrays.length, name).toBeLessThanOrEqual(MAX_KERNEL_ARRAYS);
      expect(line.scalars.length, name).toBeLessThanOrEqual(MAX_KERNEL_SCALARS);
      expect(moduleArity(name), name).toBeLessThanOrEqual(MAX_MODULE_ARGS);
    }
  });

  it("gives each kernel the arity of its portable implementation", () => {
    for (const name of KERNEL_NAMES) expect(portableKernels[name].length, name).toBe(arityOf(contractOf(name)));
  });

  it("gives each nonlinearity the code of the AssemblyScript source's constant", () => {
    const source = readFileSync(new URL("./wasm/assembly/kernels.ts", import.meta.url), "utf8");
    const codes = Object.entries(NONLINEARITY_CODE);
    expect(new Set(codes.map(([, code]) => code)).size).toBe(codes.length);
    for (const [f, code] of codes) {
      const constant = new RegExp(`^const ${f.toUpperCase()}: i32 = (\\d+);`, "m").exec(source);
      expect(constant, `const ${f.toUpperCase()}: i32 in the AssemblyScript source`).not.toBeNull();
      expect(Number(constant?.[1]), f).toBe(code);
    }
  });
});

describe("the WebAssembly binding", () => {
  it("has a call case for every argument count up to MAX_MODULE_ARGS, passing the numbers in order", () => {
    for (let n = 1; n <= MAX_MODULE_ARGS; n++) {
      const numbers = Array.from({ length: n }, (_, i) => 10 + i);
      let got: number[] = [];
      callWith((...args) => {
        got = args;
        return n;
      }, numbers);
      expect(got, `${n} arguments`).toEqual(numbers);
    }
    expect(() => callWith(() => 0, new Array<number>(MAX_MODULE_ARGS + 1).fill(0))).toThrowError(/no case for 12 arguments/);
  });

  it("passes each kernel's arguments to the module in order: arrays as byte offsets, flags 0/1, nonlinearities as codes, then the scratch", () => {
    const scratch = 4096;
    const calls = new Map<string, number[]>();
    const standIn = (name: string, arity: number): ((...args: number[]) => undefined) => {
      const f = (...args: number[]): undefined => {
        calls.set(name, args);
      };
      Object.defineProperty(f, "length", { value: arity }); // what bindKernels checks the module against
      return f;
    };
    const exports: Record<string, (...args: number[]) => number | undefined> = {};
    for (const name of KERNEL_NAMES) exports[name] = standIn(name, moduleArity(name));
    for (const query of MODULE_QUERIES) exports[query] = () => 0;
    const bound = bindKernels(exports as unknown as KernelExports, scratch, {
      allocate: (length: number) => new Float32Array(length),
      free: () => {},
      isResident: () => true,
    });
    const memory = new ArrayBuffer(1 << 16);
    for (const name of KERNEL_NAMES) {
      const line = contractOf(name);
      const scalars = scalarsOf(line);
      // each array at its own offset into one buffer, so that their byte offsets tell them apart
      let offset = 0;
      const arrays = lengthsOf(line, scalars).map((length, i) => {
        const array = line.arrays[i].kind === "ids" ? new Int32Array(memory, offset, length) : new Float32Array(memory, offset, length);
        offset += 4 * length + 64;
        return array;
      });
      const run = bound[name] as (...args: KernelArgValue[]) => unknown;
      run(...arrays, ...scalars);
      const want = [
        ...arrays.map((a) => a.byteOffset),
        ...scalars.map((s) => (typeof s === "boolean" ? Number(s) : typeof s === "string" ? NONLINEARITY_CODE[s as Nonlinearity] : s)),
        ...(line.moduleScratch ? [scratch] : []),
      ];
      expect(calls.get(name), name).toEqual(want);
    }
    expect(bound.fallbackCalls).toBe(0);
  });

  const builds: WasmBuild[] = wasmRelaxedSimdSupported() ? ["simd", "fma"] : ["simd"];
  it.runIf(wasmSimdSupported()).each(builds)("matches the compiled module's exports (%s build): every kernel, with the contract's arity and scratch", (build) => {
    const module = new WebAssembly.Module(readWasmModuleFile(build));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    const functions = Object.keys(exports).filter((n) => typeof exports[n] === "function");
    expect(functions.sort()).toEqual([...KERNEL_NAMES, ...MODULE_QUERIES].sort());
    for (const name of KERNEL_NAMES) {
      const line = contractOf(name);
      expect((exports[name] as (...args: number[]) => unknown).length, name).toBe(arityOf(line) + (line.moduleScratch ? 1 : 0));
    }
  });
});

/** Values a kernel reads or writes beyond its stated lengths would meet (or overwrite). */
const PAD = 16;
const SENTINEL = 1000.5;

/**
 * One call of a kernel on arrays of exactly the contract's lengths plus `pad` values of SENTINEL
 * (ids: 0), the arrays from the implementation's own `allocate`; the same seed gives the same values.
 * @returns the arrays before and after the call
 */
function callOnArrays(k: Kernels, name: KernelName, pad: number): { before: number[][]; after: number[][]; lengths: number[] } {
  const line = contractOf(name);
  const scalars = scalarsOf(line);
  const lengths = lengthsOf(line, scalars);
  const vIndex = line.scalars.findIndex((s) => s.name === "V");
  const idRange = vIndex < 0 ? 1 : (scalars[vIndex] as number);
  const rng = new Rng(7);
  const floats = lengths.map((length) => k.allocate(length + pad));
  const arrays = floats.map((f, i) => {
    const a = line.arrays[i].kind === "ids" ? new Int32Array(f.buffer, f.byteOffset, f.length) : f;
    for (let j = 0; j < a.length; j++) {
      // positive values: Adam's second moment stays ≥ 0
      a[j] = a instanceof Int32Array ? (j < lengths[i] ? rng.int(idRange) : 0) : j < lengths[i] ? rng.uniform(0.25, 2) : SENTINEL;
    }
    return a;
  });
  const before = arrays.map((a) => Array.from(a));
  (k[name] as (...args: KernelArgValue[]) => unknown)(...arrays, ...scalars);
  const after = arrays.map((a) => Array.from(a));
  for (const f of floats) k.free(f);
  return { before, after, lengths };
}

const implementations: [string, () => Kernels][] = [["portable", () => portableKernels]];
if (wasmSimdSupported()) implementations.push(["wasm", () => createWasmKernels()]);

describe.each(implementations)("the %s kernels keep the contract", (_, make) => {
  it("throw a ShapeError naming the array for each array one value short, and accept the stated lengths", () => {
    const k = make();
    for (const name of KERNEL_NAMES) {
      const line = contractOf(name);
      const scalars = scalarsOf(line);
      const lengths = lengthsOf(line, scalars);
      const run = k[name] as (...args: KernelArgValue[]) => unknown;
      const arraysOf = (short: number): (Float32Array | Int32Array)[] => lengths.map((length, i) => {
        const f = k.allocate(i === short ? length - 1 : length);
        return line.arrays[i].kind === "ids" ? new Int32Array(f.buffer, f.byteOffset, f.length) : f;
      });
      for (let short = 0; short < lengths.length; short++) {
        const message = `${name} ${line.arrays[short].name} has ${lengths[short] - 1} values; expected at least ${lengths[short]}`;
        expect(() => run(...arraysOf(short), ...scalars), message).toThrowError(ShapeError);
        expect(() => run(...arraysOf(short), ...scalars), message).toThrowError(message);
      }
      expect(() => run(...arraysOf(-1), ...scalars), name).not.toThrow();
    }
  });

  it("read and write nothing beyond the stated lengths, and write exactly the arrays marked written", () => {
    const k = make();
    for (const name of KERNEL_NAMES) {
      const line = contractOf(name);
      const exact = callOnArrays(k, name, 0), padded = callOnArrays(k, name, PAD);
      line.arrays.forEach((array, i) => {
        const label = `${name} ${array.name}`;
        const length = exact.lengths[i];
        // a read beyond the length meets SENTINEL in one call and other memory in the other
        expect(padded.after[i].slice(0, length), `${label}: the same values with and without padding`).toEqual(exact.after[i]);
        expect(padded.after[i].slice(length), `${label}: the padding untouched`).toEqual(new Array<number>(PAD).fill(array.kind === "ids" ? 0 : SENTINEL));
        const changed = exact.after[i].some((v, j) => !Object.is(v, exact.before[i][j]));
        expect(changed, `${label} is ${array.kind === "floats" && array.written ? "" : "not "}written`).toBe(array.kind === "floats" && array.written);
      });
    }
    if ("fallbackCalls" in k) expect(k.fallbackCalls).toBe(0);
  });
});
