/**
 * The kernel contract, stated once: for every kernel of `Kernels` (src/kernels/types.ts), its
 * arguments in order — the arrays first, each with whether the kernel writes it and the length it
 * must have as a function of the scalar arguments; then the sizes, factors, flags and the
 * nonlinearity — and the codes by which the WebAssembly module knows each nonlinearity.
 *
 * Its readers: the portable kernels check their arrays with `checkLengths` (src/kernels/portable.ts);
 * the WebAssembly binding checks every call with it and marshals the arguments by it
 * (src/kernels/wasm.ts: an array as its byte offset, a flag as 0/1, a nonlinearity as its code);
 * src/kernels/contract.test.ts holds it against both, against the compiled module's exports and
 * against the AssemblyScript source (src/kernels/wasm/assembly/kernels.ts).
 * Adding a kernel: its signature in types.ts, its line here, its portable and AssemblyScript versions.
 */
import { ShapeError } from "../errors.ts";
import { packedFloats } from "./packed.ts";
import type { Kernels, Nonlinearity } from "./types.ts";

/** The arithmetic kernels: every method of `Kernels` but its name and the memory operations. */
export type KernelName = Exclude<keyof Kernels, "name" | "allocate" | "free" | "isResident">;

/** A value a kernel takes: an array, a size or factor, a flag, or a nonlinearity. */
export type KernelArgValue = Float32Array | Int32Array | number | boolean | Nonlinearity;

/** An array argument: float32 values (`written`: an output, or updated in place), or int32 ids (only read). */
export type ArrayArg =
  | { readonly kind: "floats"; readonly name: string; readonly written: boolean }
  | { readonly kind: "ids"; readonly name: string };

/** A scalar argument: a size (an integer), a factor, a flag, or a nonlinearity. */
export interface ScalarArg<Kind extends ScalarKind = ScalarKind> {
  readonly kind: Kind;
  readonly name: string;
}

/** The kinds of scalar arguments. */
export type ScalarKind = "size" | "factor" | "flag" | "nonlinearity";

/** The contract's line of one kernel, whose parameters (the interface's) are `P`. */
export interface KernelContract<P extends readonly unknown[]> {
  /** The array arguments, first and in order (names as the length errors word them). */
  readonly arrays: ArrayArgs<LeadingArrays<P>>;
  /** The arguments after the arrays, in order. */
  readonly scalars: ScalarArgs<Scalars<P>>;
  /**
   * The length each array must have at least, in the order of `arrays`, from the scalar arguments,
   * written into `out` with `put`: no array made, since the WebAssembly binding runs it on every call.
   */
  readonly lengths: (out: number[], ...scalars: Scalars<P>) => void;
  /** The module's function takes one more argument after these: the byte offset of the calling thread's packing scratch. */
  readonly moduleScratch: boolean;
}

/** The contract of every kernel; its types follow from the `Kernels` interface, so a line cannot disagree with it. */
export type KernelContracts = { readonly [K in KernelName]: KernelContract<Parameters<Kernels[K]>> };

// The interface's parameters split into the leading arrays and the rest. A kernel whose arrays do not
// all come first gets an array in its scalars, which no ScalarArg describes: its line does not compile.
type IsArray<T> = T extends Float32Array | Int32Array ? true : false;
type LeadingArrays<P> = P extends readonly [infer A, ...infer R] ? (IsArray<A> extends true ? [A, ...LeadingArrays<R>] : []) : [];
type Scalars<P> = P extends readonly [infer A, ...infer R] ? (IsArray<A> extends true ? Scalars<R> : P) : P;
type ArrayArgs<T extends readonly unknown[]> = { readonly [I in keyof T]: ArrayArgOf<T[I]> };
type ScalarArgs<T extends readonly unknown[]> = { readonly [I in keyof T]: ScalarArgOf<T[I]> };
type ArrayArgOf<T> = T extends Float32Array ? Extract<ArrayArg, { kind: "floats" }> : T extends Int32Array ? Extract<ArrayArg, { kind: "ids" }> : never;
type ScalarArgOf<T> = [T] extends [boolean] ? ScalarArg<"flag"> : [T] extends [Nonlinearity] ? ScalarArg<"nonlinearity">
  : [T] extends [number] ? ScalarArg<"size" | "factor"> : never;

// The contract's lines, spelled short: an array the kernel writes (and may read), one it only reads, ids, and the scalars.
const written = (name: string) => ({ kind: "floats", name, written: true }) as const;
const read = (name: string) => ({ kind: "floats", name, written: false }) as const;
const ids = (name: string) => ({ kind: "ids", name }) as const;
const size = (name: string) => ({ kind: "size", name }) as const;
const factor = (name: string) => ({ kind: "factor", name }) as const;
const flag = (name: string) => ({ kind: "flag", name }) as const;
const nonlinearity = (name: string) => ({ kind: "nonlinearity", name }) as const;

/**
 * Every kernel's arguments and array lengths (the meaning of each is documented on `Kernels`).
 * Lengths are minimums: a longer array is accepted and only its first values are used.
 */
export const KERNEL_CONTRACT: KernelContracts = {
  gemm: {
    arrays: [written("C"), read("A"), read("B")],
    scalars: [size("M"), size("N"), size("K"), flag("transA"), flag("transB"), flag("accumulate")],
    lengths: (out, M, N, K) => put(out, M * N, M * K, K * N),
    moduleScratch: true,
  },
  packB: {
    arrays: [written("packed"), read("B")],
    scalars: [size("N"), size("K"), flag("transB")],
    lengths: (out, N, K) => put(out, packedFloats(N, K), K * N),
    moduleScratch: false,
  },
  gemmPacked: {
    arrays: [written("C"), read("A"), read("packed")],
    scalars: [size("M"), size("N"), size("K"), flag("transA"), flag("accumulate")],
    lengths: (out, M, N, K) => put(out, M * N, M * K, packedFloats(N, K)),
    moduleScratch: true,
  },
  addRowVector: {
    arrays: [written("out"), read("v")],
    scalars: [size("rows"), size("cols")],
    lengths: (out, rows, cols) => put(out, rows * cols, cols),
    moduleScratch: false,
  },
  sumRows: {
    arrays: [written("out"), read("a")],
    scalars: [size("rows"), size("cols")],
    lengths: (out, rows, cols) => put(out, cols, rows * cols),
    moduleScratch: false,
  },
  activate: {
    arrays: [written("x")],
    scalars: [nonlinearity("f"), size("n")],
    lengths: (out, _f, n) => put(out, n),
    moduleScratch: false,
  },
  activateBackward: {
    arrays: [written("d"), read("y")],
    scalars: [nonlinearity("f"), size("n")],
    lengths: (out, _f, n) => put(out, n, n),
    moduleScratch: false,
  },
  lstmCellForward: {
    arrays: [written("gates"), written("c"), written("h"), read("cPrev")],
    scalars: [size("rows"), size("H")],
    lengths: (out, rows, H) => put(out, rows * 4 * H, rows * H, rows * H, rows * H),
    moduleScratch: false,
  },
  lstmCellBackward: {
    arrays: [written("dGates"), written("dcPrev"), written("dc"), read("dh"), read("gates"), read("c"), read("cPrev")],
    scalars: [size("rows"), size("H")],
    lengths: (out, rows, H) => put(out, rows * 4 * H, rows * H, rows * H, rows * H, rows * 4 * H, rows * H, rows * H),
    moduleScratch: false,
  },
  gruCellForward: {
    arrays: [written("gates"), read("hProj"), written("h"), read("hPrev")],
    scalars: [size("rows"), size("H")],
    lengths: (out, rows, H) => put(out, rows * 3 * H, rows * 3 * H, rows * H, rows * H),
    moduleScratch: false,
  },
  gruCellBackward: {
    arrays: [written("dx"), written("dhProj"), written("dhPrev"), read("dh"), read("gates"), read("hProj"), read("hPrev")],
    scalars: [size("rows"), size("H")],
    lengths: (out, rows, H) => put(out, rows * 3 * H, rows * 3 * H, rows * H, rows * H, rows * 3 * H, rows * 3 * H, rows * H),
    moduleScratch: false,
  },
  softmaxCrossEntropy: {
    arrays: [written("logits"), ids("targets")],
    scalars: [size("rows"), size("V")],
    lengths: (out, rows, V) => put(out, rows * V, rows),
    moduleScratch: false,
  },
  softmaxCrossEntropyBackward: {
    arrays: [written("y"), ids("targets")],
    scalars: [size("rows"), size("V"), factor("scale")],
    lengths: (out, rows, V) => put(out, rows * V, rows),
    moduleScratch: false,
  },
  gatherColumns: {
    arrays: [written("out"), read("W"), ids("ids")],
    scalars: [size("rows"), size("H"), size("V")],
    lengths: (out, rows, H, V) => put(out, rows * H, H * V, rows),
    moduleScratch: false,
  },
  scatterAddColumns: {
    arrays: [written("dW"), read("d"), ids("ids")],
    scalars: [size("rows"), size("H"), size("V")],
    lengths: (out, rows, H, V) => put(out, H * V, rows * H, rows),
    moduleScratch: false,
  },
  adamUpdate: {
    arrays: [written("p"), written("m"), written("v"), read("g")],
    scalars: [size("n"), factor("stepSize"), factor("sqrtBc2"), factor("beta1"), factor("beta2"), factor("eps")],
    lengths: (out, n) => put(out, n, n, n, n),
    moduleScratch: false,
  },
};

/**
 * The code of each nonlinearity in the WebAssembly module: its constants TANH, RELU and SIGMOID
 * (src/kernels/wasm/assembly/kernels.ts; contract.test.ts checks that they agree).
 */
export const NONLINEARITY_CODE: Readonly<Record<Nonlinearity, number>> = { tanh: 0, relu: 1, sigmoid: 2 };

// The most arguments a kernel may have, in all, as arrays and after the arrays: what the callers that
// spell the arguments out handle (`checkLengths` and `put` here, the binding in src/kernels/wasm.ts).
/** Most arguments of a kernel. */
export const MAX_KERNEL_ARGS = 10;
/** Most array arguments of a kernel. */
export const MAX_KERNEL_ARRAYS = 7;
/** Most arguments after a kernel's arrays. */
export const MAX_KERNEL_SCALARS = 6;

/** `out[i] = lengths[i]`: the arrays' lengths of a contract line (fixed parameters: no rest array). */
function put(out: number[], l0: number, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0): void {
  out[0] = l0; out[1] = l1; out[2] = l2; out[3] = l3; out[4] = l4; out[5] = l5; out[6] = l6;
}

/** A contract line with its kernel's parameters erased: the form in which `checkLengths` and the WebAssembly binding handle every line alike. */
export interface AnyKernelContract {
  readonly arrays: readonly ArrayArg[];
  readonly scalars: readonly ScalarArg[];
  /** As `KernelContract.lengths`; the caller passes the call's scalars (and may pass more: they are ignored). */
  readonly lengths: (out: number[], ...scalars: unknown[]) => void;
  readonly moduleScratch: boolean;
}

/**
 * @param name a kernel
 * @returns its contract line, its parameters erased
 */
export function contractOf(name: KernelName): AnyKernelContract {
  // each line's lengths reads only the scalars of its own kernel, which its callers pass in order
  return KERNEL_CONTRACT[name] as unknown as AnyKernelContract;
}

/**
 * Throw unless `a` holds at least `n` values.
 * @param name what the array is, for the message ("gemm A")
 * @param a the array
 * @param n values the kernel will read or write
 * @throws ShapeError naming the array, its length and the length expected
 */
export function need(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length < n) throw new ShapeError(`${name} has ${a.length} values; expected at least ${n}`);
}

// The arguments and lengths of the current `checkLengths` call (it runs to completion, never re-entered);
// room for MAX_KERNEL_SCALARS scalars after MAX_KERNEL_ARRAYS arrays, which `lengths` is passed.
const checkedArgs: unknown[] = new Array<unknown>(MAX_KERNEL_ARRAYS + MAX_KERNEL_SCALARS).fill(undefined);
const checkedLengths: number[] = [];

/**
 * Check a call's arrays against the kernel's contract line: each holds at least the values its
 * length says. The portable kernels call it on entry, with all their arguments.
 * @param name the kernel
 * @param args the call's arguments, as the kernel took them
 * @throws ShapeError naming the first array that is too short, its length and the length expected
 */
export function checkLengths<K extends KernelName>(name: K, ...args: Parameters<Kernels[K]>): void;
export function checkLengths(
  name: KernelName, a0?: unknown, a1?: unknown, a2?: unknown, a3?: unknown, a4?: unknown,
  a5?: unknown, a6?: unknown, a7?: unknown, a8?: unknown, a9?: unknown,
): void {
  const line = KERNEL_CONTRACT[name] as unknown as AnyKernelContract; // (contractOf, inline: V8 did not inline the call)
  const n = line.arrays.length;
  // the arguments spelled out and kept in a reused list: a call allocates nothing
  const args = checkedArgs, lengths = checkedLengths;
  args[0] = a0; args[1] = a1; args[2] = a2; args[3] = a3; args[4] = a4; args[5] = a5; args[6] = a6; args[7] = a7; args[8] = a8; args[9] = a9;
  line.lengths(lengths, args[n], args[n + 1], args[n + 2], args[n + 3], args[n + 4], args[n + 5]);
  for (let i = 0; i < n; i++) {
    const a = args[i] as Float32Array | Int32Array;
    if (a.length < lengths[i]) {
      args.fill(undefined);
      need(`${name} ${line.arrays[i].name}`, a, lengths[i]);
    }
  }
  args.fill(undefined, 0, n); // no caller's array is kept alive between calls
}
