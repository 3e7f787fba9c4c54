/**
 * The kernel interface: every piece of dense arithmetic the layers need, on float32 typed arrays.
 * A layer never loops over numbers itself; it calls these. The portable TypeScript version
 * (portable.ts) is the fallback and the readable definition; a WebAssembly/SIMD version can
 * replace it behind the same signatures without touching a layer, and is tested against the
 * float64 reference like every fast path.
 *
 * Conventions (llm.c): outputs first, then inputs, then sizes. Matrices are row-major.
 * Kernels allocate nothing, read no globals, and check lengths once on entry: every kernel's
 * arguments and array lengths are stated once, in src/kernels/contract.ts.
 */

/** Nonlinearity f1 of the simple RNN (F2 of docs/derivation.md); the gated cells use tanh (and σ for their gates). */
export type Nonlinearity = "tanh" | "relu" | "sigmoid";

/** The arithmetic the layers are built from. */
export interface Kernels {
  /** Name shown in benchmarks, e.g. "portable". */
  readonly name: string;

  /**
   * A zeroed array that these kernels use in place, without copying: for the WebAssembly kernels a
   * view into the module's memory, for the portable ones a plain array. Every kernel also accepts
   * arrays from anywhere else, but may then fall back to slower code; allocate whatever a hot loop
   * touches (activations, parameters, gradients) here, once per shape, and reuse it.
   * A view stays valid, at the same place, until it is passed to `free`: growing the memory never
   * invalidates it (see src/kernels/wasm-heap.ts for how the WebAssembly memory ensures that).
   * WebAssembly memory is not garbage-collected: `free` what you allocate when you are done with it.
   * @param length number of float32 values
   * @returns a zero-filled array of exactly `length` values
   */
  allocate(length: number): Float32Array;

  /**
   * Give back an array from `allocate` (and so every view into it); using it afterwards is an error
   * that may go unnoticed. Arrays that did not come from `allocate` are ignored.
   * @param array the array `allocate` returned
   */
  free(array: Float32Array): void;

  /**
   * @param array any typed array
   * @returns whether the kernels use `array` in place (for the WebAssembly kernels: it lies in the
   *   module's memory); when false, a caller in a hot loop should copy it into `allocate`d memory once
   */
  isResident(array: ArrayBufferView): boolean;

  /**
   * General matrix product C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
   * op(A) is M×K: A is stored M×K, or K×M when `transA`. op(B) is K×N: B is stored K×N, or N×K when `transB`.
   * @param c output, M×N
   * @param a left input
   * @param b right input
   * @param M rows of C
   * @param N columns of C
   * @param K inner dimension
   * @param transA A is stored transposed (K×M)
   * @param transB B is stored transposed (N×K)
   * @param accumulate add into C instead of overwriting it
   */
  gemm(
    c: Float32Array, a: Float32Array, b: Float32Array,
    M: number, N: number, K: number,
    transA: boolean, transB: boolean, accumulate: boolean,
  ): void;

  /**
   * Pack op(B) for `gemmPacked` (layout: src/kernels/packed.ts): a matrix that several products
   * share, such as W_hh for every step of a chunk, is then rearranged once instead of once per product.
   * @param packed output, `packedFloats(N, K)` floats
   * @param b the matrix: K×N, or N×K when `transB`
   * @param N columns of op(B)
   * @param K rows of op(B)
   * @param transB B is stored transposed (N×K)
   */
  packB(packed: Float32Array, b: Float32Array, N: number, K: number, transB: boolean): void;

  /**
   * C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`, with op(B) as `packB` left it: the
   * same product as `gemm(c, a, b, M, N, K, transA, transB, accumulate)`.
   * @param c output, M×N
   * @param a left input: M×K, or K×M when `transA`
   * @param packed op(B) packed by `packB` (`packedFloats(N, K)` floats)
   * @param M rows of C
   * @param N columns of C
   * @param K inner dimension
   * @param transA A is stored transposed (K×M)
   * @param accumulate add into C instead of overwriting it
   */
  gemmPacked(
    c: Float32Array, a: Float32Array, packed: Float32Array,
    M: number, N: number, K: number, transA: boolean, accumulate: boolean,
  ): void;

  /**
   * out[r, :] += v for every row r (bias add).
   * @param out rows×cols, updated in place
   * @param v cols
   */
  addRowVector(out: Float32Array, v: Float32Array, rows: number, cols: number): void;

  /**
   * out[:] += Σ_r a[r, :] (bias gradient).
   * @param out cols, accumulated into
   * @param a rows×cols
   */
  sumRows(out: Float32Array, a: Float32Array, rows: number, cols: number): void;

  /**
   * In place y = f1(x) element-wise.
   * @param x values, replaced by f1(x)
   */
  activate(x: Float32Array, f: Nonlinearity, n: number): void;

  /**
   * In place d = f1'(h̄) ⊙ d, with f1' computed from the stored output y = f1(h̄).
   * @param d upstream gradient, replaced by the gradient with respect to the pre-activation
   * @param y stored outputs of `activate`
   */
  activateBackward(d: Float32Array, y: Float32Array, f: Nonlinearity, n: number): void;

  /**
   * One LSTM step for every row, fused: the gate nonlinearities, the cell and the output.
   * A row holds four blocks of H, in PyTorch's order [i | f | g | o]; σ(x) = 1/(1+e^−x).
   * L2  [i, f, g, o] = [σ(a_i), σ(a_f), tanh(a_g), σ(a_o)];  L3  c = f ⊙ cPrev + i ⊙ g;  L4  h = o ⊙ tanh(c).
   * @param gates rows×4H: on entry the pre-activations a = W_ih x + W_hh h_{t−1} + b (L1), replaced
   *   by the activations [i, f, g, o] (what `lstmCellBackward` reads)
   * @param c rows×H, output: the cell c_t
   * @param h rows×H, output: the hidden state h_t
   * @param cPrev rows×H: the cell c_{t−1}
   * @param rows rows of the batch (sequences at this step)
   * @param H hidden units
   */
  lstmCellForward(gates: Float32Array, c: Float32Array, h: Float32Array, cPrev: Float32Array, rows: number, H: number): void;

  /**
   * The backward of `lstmCellForward` for every row, fused: the total cell gradient, the gradient
   * with respect to the four pre-activations, and the cell gradient carried to step t−1.
   * L6  dc_t = dc + dh ⊙ o ⊙ (1 − tanh²(c_t));
   * L7  da_i = dc_t ⊙ g ⊙ i(1−i);  da_f = dc_t ⊙ c_{t−1} ⊙ f(1−f);  da_g = dc_t ⊙ i ⊙ (1−g²);  da_o = dh ⊙ tanh(c_t) ⊙ o(1−o);
   * L9  the carry f ⊙ dc_t (dc_0 after step 1). tanh(c_t) is recomputed from c, not stored.
   * @param dGates rows×4H, output: [da_i, da_f, da_g, da_o]. May be the same array as `gates`
   *   (in place: each element's four activations are read before any of its outputs is written)
   * @param dcPrev rows×H, output: the carry f ⊙ dc_t into step t−1 (dc_0 after step 1)
   * @param dc rows×H, in and out: on entry the carried part f_{t+1} ⊙ dc_{t+1} (zeros at the last
   *   step), on return the total dc_t (kept for diagnostics); may not be the same array as dcPrev
   * @param dh rows×H: ∂E/∂h_t, total (from the output and from step t+1)
   * @param gates rows×4H: the activations [i, f, g, o] that `lstmCellForward` left
   * @param c rows×H: c_t of this step
   * @param cPrev rows×H: c_{t−1}
   * @param rows rows of the batch
   * @param H hidden units
   */
  lstmCellBackward(
    dGates: Float32Array, dcPrev: Float32Array, dc: Float32Array, dh: Float32Array,
    gates: Float32Array, c: Float32Array, cPrev: Float32Array, rows: number, H: number,
  ): void;

  /**
   * One GRU step for every row, fused: the gates and the new hidden state. A row holds three
   * blocks of H, in PyTorch's order [r | z | n]; a^x = W_ih x + b_ih, a^h = W_hh h_{t−1} + b_hh (G1).
   * G2  r = σ(a^x_r + a^h_r), z = σ(a^x_z + a^h_z);  G3  n = tanh(a^x_n + r ⊙ a^h_n);
   * G4  h = (1 − z) ⊙ n + z ⊙ hPrev.
   * @param gates rows×3H: on entry a^x, replaced by the activations [r, z, n] (what `gruCellBackward` reads)
   * @param hProj rows×3H: a^h, unchanged (`gruCellBackward` reads a^h_n from it)
   * @param h rows×H, output: h_t
   * @param hPrev rows×H: h_{t−1}
   * @param rows rows of the batch
   * @param H hidden units
   */
  gruCellForward(gates: Float32Array, hProj: Float32Array, h: Float32Array, hPrev: Float32Array, rows: number, H: number): void;

  /**
   * The backward of `gruCellForward` for every row, fused.
   * G6  dn = dh ⊙ (1 − z);  dz = dh ⊙ (hPrev − n);
   * G7  da^x_n = dn ⊙ (1 − n²);  da^h_n = da^x_n ⊙ r;  dr = da^x_n ⊙ a^h_n;
   * G8  da^x_r = da^h_r = dr ⊙ r(1−r);  da^x_z = da^h_z = dz ⊙ z(1−z);
   * G10 the direct part of dh_{t−1}: z ⊙ dh (the caller adds W_hhᵀ da^h).
   * @param dx rows×3H, output: [da^x_r, da^x_z, da^x_n]. May be the same array as `gates` (in place)
   * @param dhProj rows×3H, output: [da^h_r, da^h_z, da^h_n]. May be the same array as `hProj` (in place)
   * @param dhPrev rows×H, output (overwritten): z ⊙ dh. Must not be the same array as `dh`
   * @param dh rows×H: ∂E/∂h_t, total
   * @param gates rows×3H: the activations [r, z, n] that `gruCellForward` left
   * @param hProj rows×3H: a^h of the forward step
   * @param hPrev rows×H: h_{t−1}
   * @param rows rows of the batch
   * @param H hidden units
   */
  gruCellBackward(
    dx: Float32Array, dhProj: Float32Array, dhPrev: Float32Array, dh: Float32Array,
    gates: Float32Array, hProj: Float32Array, hPrev: Float32Array, rows: number, H: number,
  ): void;

  /**
   * Row softmax in place and the summed cross-entropy of the targets.
   * @param logits rows×V, replaced by the probabilities y
   * @param targets rows target ids in [0, V)
   * @returns Σ_r −log y[r, targets[r]], accumulated in float64
   */
  softmaxCrossEntropy(logits: Float32Array, targets: Int32Array, rows: number, V: number): number;

  /**
   * In place d = scale·(y − onehot(target)) row by row: the gradient of the cross-entropy with respect to the logits.
   * @param y rows×V probabilities from `softmaxCrossEntropy`, replaced by the gradient
   * @param targets rows target ids
   * @param scale factor (1 for the summed loss E, 1/rows for the mean)
   */
  softmaxCrossEntropyBackward(y: Float32Array, targets: Int32Array, rows: number, V: number, scale: number): void;

  /**
   * Gather columns: out[r, j] = W[j, ids[r]] (+= when accumulate). The one-hot product W x for every row.
   * @param out rows×H
   * @param W H×V
   * @param ids rows ids in [0, V)
   */
  gatherColumns(out: Float32Array, W: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void;

  /**
   * Scatter-add into columns: dW[j, ids[r]] += d[r, j]. The one-hot product d xᵀ for every row.
   * @param dW H×V, accumulated into
   * @param d rows×H
   * @param ids rows ids in [0, V)
   */
  scatterAddColumns(dW: Float32Array, d: Float32Array, ids: Int32Array, rows: number, H: number, V: number): void;

  /**
   * One Adam update in place (O5 of src/train/optimizers.ts), float32 storage and float64
   * arithmetic in exactly this order, so that every implementation gives the same bits:
   * m' = β1·m + (1−β1)·g;  v' = β2·v + ((1−β2)·g)·g;  p −= (stepSize·m') / (√v' / sqrtBc2 + ε),
   * with m' and v' used before they are rounded to float32 for storage.
   * @param p parameters (n), updated
   * @param m first moment (n), updated
   * @param v second moment (n), updated
   * @param g gradient (n)
   * @param n number of values
   * @param stepSize lr/(1−β1^t)
   * @param sqrtBc2 √(1−β2^t)
   * @param beta1 β1
   * @param beta2 β2
   * @param eps ε
   */
  adamUpdate(
    p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, n: number,
    stepSize: number, sqrtBc2: number, beta1: number, beta2: number, eps: number,
  ): void;
}
