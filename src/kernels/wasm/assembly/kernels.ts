/**
 * WebAssembly SIMD kernels (AssemblyScript): the fast implementation of the `Kernels` interface
 * (src/kernels/types.ts). The readable definition of every kernel is src/kernels/portable.ts;
 * this file computes the same results faster, and src/kernels/kernels.test.ts holds both to a
 * float64 loop.
 *
 * Calling convention: every pointer is a byte offset into the module's (imported) memory, every
 * size a count of elements, flags are 0/1. The TypeScript wrapper (src/kernels/wasm.ts) checks
 * lengths and residency before it calls in, so nothing here re-checks them. Kernels keep no state:
 * no globals, no allocation; the matrix product gets its packing buffers from the caller
 * (`scratch`, `scratchFloats()` floats). That keeps them safe to run from several threads over
 * one shared memory.
 *
 * The matrix product follows the BLIS/GotoBLAS structure: loops over blocks of N (NC) and K (KC)
 * pack a KC×NC block of op(B) into column panels NR wide, loops over blocks of M (MC) pack an
 * MC×KC block of op(A) into row panels MR high, and a register-tiled micro-kernel multiplies one
 * A panel by one B panel into an MR×NR tile of C held in 8 f32x4 registers. Packing makes the four
 * transpose cases one case and the micro-kernel's loads contiguous. When all of A is one MC block
 * (the recurrence's B×H rows), each panel of B is packed right before its only use, while it is in
 * L1. Fewer than four rows (the batch-1 recurrence) skip packing: there, streaming the weight once
 * is the whole cost. Measured on one core of the benchmark machine (docs/speed.md): 20–27 GFLOP/s from 256³ up
 * (V8 has no FMA without relaxed SIMD: each f32x4 step is a mul and an add).
 */

// Register tile: MR rows × NR columns of C (NR = two f32x4; also the panel width of the packed
// operands of packB/gemmPacked, PANEL in src/kernels/packed.ts).
const MR: i32 = 4;
const NR: i32 = 8;
// Cache blocks: a KC×NR panel of B (8 KiB) stays in L1, an MC×KC block of A (128 KiB) in L2,
// the KC×NC block of B (2 MiB) in L3.
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 2048;
// Below this many rows of C the product runs unpacked (packing B would cost as much as using it).
const SMALL_M: i32 = 4;

/** @returns 1 in the relaxed-SIMD build (kernels-fma.wasm: fused multiply-add in the GEMM), 0 in the base build */
export function fusedMultiplyAdd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/** @returns floats of scratch space `gemm` needs: packed B, packed A and one edge tile */
export function scratchFloats(): i32 {
  return KC * NC + MC * KC + MR * NR;
}

/** @returns the first byte after the module's static data; the caller's allocator starts here */
export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// gemm: C (M×N) (+)= op(A) (M×K) · op(B) (K×N)
// ---------------------------------------------------------------------------------------------

/**
 * C = op(A)·op(B), or C += op(A)·op(B) when `accumulate`. A is M×K (K×M when transA),
 * B is K×N (N×K when transB), all row-major.
 */
export function gemm(
  c: usize, a: usize, b: usize, M: i32, N: i32, K: i32,
  transA: i32, transB: i32, accumulate: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (!accumulate) memory.fill(c, 0, <usize>M * <usize>N * 4);
  if (K <= 0) return;
  if (M < SMALL_M && !transB) {
    smallNN(c, a, b, M, N, K, transA);
    return;
  }
  if (M < SMALL_M && !transA) {
    smallNT(c, a, b, M, N, K);
    return;
  }
  const bp = scratch;
  const ap = bp + <usize>(KC * NC) * 4;
  const tile = ap + <usize>(MC * KC) * 4;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      if (M <= MC) {
        // One block of A (the recurrence's B×H rows): pack it, then pack each panel of B right
        // before its only use, so that the panel is still in L1.
        packA(ap, a, M, K, 0, pc, M, kc, transA);
        for (let jr = 0; jr < nc; jr += NR) {
          packBPanel(bp, b, N, K, jc + jr, pc, min(NR, nc - jr), kc, transB);
          panelColumn(c, N, 0, jc + jr, M, min(NR, nc - jr), kc, ap, bp, tile);
        }
        continue;
      }
      // Pack the KC×NC block of B once, reuse it for every MC block of A.
      for (let jr = 0; jr < nc; jr += NR) {
        packBPanel(bp + <usize>(jr * kc) * 4, b, N, K, jc + jr, pc, min(NR, nc - jr), kc, transB);
      }
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(ap, a, M, K, ic, pc, mc, kc, transA);
        for (let jr = 0; jr < nc; jr += NR) {
          panelColumn(c, N, ic, jc + jr, mc, min(NR, nc - jr), kc, ap, bp + <usize>(jr * kc) * 4, tile);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// packB / gemmPacked: op(B) packed once (src/kernels/packed.ts: panels of NR = PANEL columns, each
// K×NR row-major), then used by many products. The KC rows pc..pc+kc of a panel are contiguous, so
// gemmPacked runs gemm's loops, micro-kernel and summation order on them: the same bits as gemm.
// ---------------------------------------------------------------------------------------------

/** Pack all of op(B) (K×N) into NR-wide panels of K rows (the last one zero-padded). */
export function packB(packed: usize, b: usize, N: i32, K: i32, transB: i32): void {
  for (let j = 0; j < N; j += NR) packBPanel(packed + <usize>j * <usize>K * 4, b, N, K, j, 0, min(NR, N - j), K, transB);
}

/** C (+)= op(A)·op(B), op(B) packed by `packB`. */
export function gemmPacked(
  c: usize, a: usize, packed: usize, M: i32, N: i32, K: i32, transA: i32, accumulate: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (!accumulate) memory.fill(c, 0, <usize>M * <usize>N * 4);
  if (K <= 0) return;
  // (Fewer than MR rows run as edge tiles: correct, but gemm's unpacked small-row loops are the
  // faster choice there; the layers multiply a batch under 4 rows directly, see src/cells/buffers.ts.)
  const ap = scratch + <usize>(KC * NC) * 4;
  const tile = ap + <usize>(MC * KC) * 4;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    for (let ic = 0; ic < M; ic += MC) {
      const mc = min(MC, M - ic);
      packA(ap, a, M, K, ic, pc, mc, kc, transA);
      for (let j = 0; j < N; j += NR) {
        // rows pc.. of the panel at column j
        panelColumn(c, N, ic, j, mc, min(NR, N - j), kc, ap, packed + (<usize>j * <usize>K + <usize>pc * NR) * 4, tile);
      }
    }
  }
}

/** Pack op(B)[pc.., j..j+nr] (kc rows) into one NR-wide panel. op(B)[k, j] is B[k·N + j], or B[j·K + k] when transposed. */
function packBPanel(dst: usize, b: usize, N: i32, K: i32, j: i32, pc: i32, nr: i32, kc: i32, transB: i32): void {
  if (transB) packStrided(dst, b + (<usize>j * <usize>K + <usize>pc) * 4, <usize>K * 4, nr, NR, kc);
  else packContiguous(dst, b + (<usize>pc * <usize>N + <usize>j) * 4, <usize>N * 4, nr, NR, kc);
}

/** Pack op(A)[ic..ic+mc, pc..pc+kc] into MR-high panels. op(A)[i, k] is A[i·K + k], or A[k·M + i] when transposed. */
function packA(dst: usize, a: usize, M: i32, K: i32, ic: i32, pc: i32, mc: i32, kc: i32, transA: i32): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const d = dst + <usize>(ir * kc) * 4;
    const mr = min(MR, mc - ir);
    if (transA) packContiguous(d, a + (<usize>pc * <usize>M + <usize>(ic + ir)) * 4, <usize>M * 4, mr, MR, kc);
    else packStrided(d, a + (<usize>(ic + ir) * <usize>K + <usize>pc) * 4, <usize>K * 4, mr, MR, kc);
  }
}

/** Multiply the packed A block (mc rows) by one packed B panel (nr ≤ NR columns at column j) into C, tile by tile. */
function panelColumn(
  c: usize, N: i32, ic: i32, j: i32, mc: i32, nr: i32, kc: i32, ap: usize, pb: usize, tile: usize,
): void {
  const ldc = <usize>N * 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const pa = ap + <usize>(ir * kc) * 4;
    const cij = c + (<usize>(ic + ir) * <usize>N + <usize>j) * 4;
    if (mr == MR && nr == NR) {
      microKernel(kc, pa, pb, cij, ldc);
    } else {
      // Edge tile: compute the full MR×NR tile (the panels are zero-padded) into scratch, add the valid part.
      memory.fill(tile, 0, MR * NR * 4);
      microKernel(kc, pa, pb, tile, NR * 4);
      for (let i = 0; i < mr; i++) {
        for (let jj = 0; jj < nr; jj++) {
          const p = cij + <usize>i * ldc + <usize>jj * 4;
          store<f32>(p, load<f32>(p) + load<f32>(tile + <usize>(i * NR + jj) * 4));
        }
      }
    }
  }
}

/**
 * a·b + c, lane-wise: one fused multiply-add (f32x4.relaxed_madd) in the relaxed-SIMD build
 * (kernels-fma.wasm, `asc --enable relaxed-simd`), a multiply and an add in the base build. The
 * GEMM's inner loops use it; the fused form rounds once instead of twice, so the two builds
 * differ at rounding level (both are checked against the float64 reference).
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * The register tile: C[0..4, 0..8] += Σ_k pa[k, 0..4] ⊗ pb[k, 0..8] over packed panels
 * (pa: MR floats per k, pb: NR floats per k). 8 accumulators, 2 B vectors, 1 broadcast A.
 */
function microKernel(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = madd(av, b0, c00);
    c01 = madd(av, b1, c01);
    av = v128.load32_splat(pa, 4);
    c10 = madd(av, b0, c10);
    c11 = madd(av, b1, c11);
    av = v128.load32_splat(pa, 8);
    c20 = madd(av, b0, c20);
    c21 = madd(av, b1, c21);
    av = v128.load32_splat(pa, 12);
    c30 = madd(av, b0, c30);
    c31 = madd(av, b1, c31);
    pa += 16;
    pb += 32;
  }
  v128.store(c, f32x4.add(v128.load(c), c00));
  v128.store(c, f32x4.add(v128.load(c, 16), c01), 16);
  c += ldc;
  v128.store(c, f32x4.add(v128.load(c), c10));
  v128.store(c, f32x4.add(v128.load(c, 16), c11), 16);
  c += ldc;
  v128.store(c, f32x4.add(v128.load(c), c20));
  v128.store(c, f32x4.add(v128.load(c, 16), c21), 16);
  c += ldc;
  v128.store(c, f32x4.add(v128.load(c), c30));
  v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
}

/**
 * Pack a panel whose W entries per k are contiguous in the source: dst[k·W + j] = src[k·ldk + j]
 * for j < n, zero for n ≤ j < W. (op(B) untransposed, op(A) transposed.)
 */
function packContiguous(dst: usize, src: usize, ldk: usize, n: i32, W: i32, kc: i32): void {
  if (n == W) {
    const vectors = W >> 2;
    for (let k = 0; k < kc; k++) {
      for (let v = 0; v < vectors; v++) v128.store(dst + <usize>v * 16, v128.load(src + <usize>v * 16));
      dst += <usize>W * 4;
      src += ldk;
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    for (let j = 0; j < W; j++) store<f32>(dst + <usize>j * 4, j < n ? load<f32>(src + <usize>j * 4) : 0);
    dst += <usize>W * 4;
    src += ldk;
  }
}

/**
 * Pack a panel whose entries are rows of the source, contiguous along k: dst[k·W + j] = src[j·ldj + k]
 * for j < n, zero for n ≤ j < W. (op(B) transposed, op(A) untransposed.) 4×4 blocks are transposed
 * in registers.
 */
function packStrided(dst: usize, src: usize, ldj: usize, n: i32, W: i32, kc: i32): void {
  if (n == W) {
    const groups = W >> 2;
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      for (let g = 0; g < groups; g++) {
        const s = src + <usize>(g * 4) * ldj + <usize>k * 4;
        const r0 = v128.load(s);
        const r1 = v128.load(s + ldj);
        const r2 = v128.load(s + 2 * ldj);
        const r3 = v128.load(s + 3 * ldj);
        const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
        const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
        const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
        const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
        const d = dst + (<usize>k * <usize>W + <usize>(g * 4)) * 4;
        const row = <usize>W * 4;
        v128.store(d, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
        v128.store(d + row, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
        v128.store(d + 2 * row, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
        v128.store(d + 3 * row, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
      }
    }
    for (; k < kc; k++) {
      for (let j = 0; j < W; j++) {
        store<f32>(dst + (<usize>k * <usize>W + <usize>j) * 4, load<f32>(src + <usize>j * ldj + <usize>k * 4));
      }
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    for (let j = 0; j < W; j++) {
      store<f32>(dst + (<usize>k * <usize>W + <usize>j) * 4, j < n ? load<f32>(src + <usize>j * ldj + <usize>k * 4) : 0);
    }
  }
}

/**
 * Few rows, B untransposed: C[i, :] += Σ_k op(A)[i, k] · B[k, :], 16 columns of C in registers
 * while B streams by once per row of C.
 */
function smallNN(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, transA: i32): void {
  const ldb = <usize>N * 4;
  // op(A)[i, k]: at a + (i·K + k)·4, or a + (k·M + i)·4 when transposed
  const aStepK: usize = transA ? <usize>M * 4 : 4;
  for (let i = 0; i < M; i++) {
    const a0: usize = transA ? a + <usize>i * 4 : a + <usize>i * <usize>K * 4;
    const ci = c + <usize>i * ldb;
    let j = 0;
    for (; j + 16 <= N; j += 16) {
      const cj = ci + <usize>j * 4;
      let s0 = v128.load(cj), s1 = v128.load(cj, 16), s2 = v128.load(cj, 32), s3 = v128.load(cj, 48);
      let pa = a0;
      let pb = b + <usize>j * 4;
      for (let k = 0; k < K; k++) {
        const av = v128.load32_splat(pa);
        s0 = madd(av, v128.load(pb), s0);
        s1 = madd(av, v128.load(pb, 16), s1);
        s2 = madd(av, v128.load(pb, 32), s2);
        s3 = madd(av, v128.load(pb, 48), s3);
        pa += aStepK;
        pb += ldb;
      }
      v128.store(cj, s0);
      v128.store(cj, s1, 16);
      v128.store(cj, s2, 32);
      v128.store(cj, s3, 48);
    }
    for (; j + 4 <= N; j += 4) {
      const cj = ci + <usize>j * 4;
      let s0 = v128.load(cj);
      let pa = a0;
      let pb = b + <usize>j * 4;
      for (let k = 0; k < K; k++) {
        s0 = madd(v128.load32_splat(pa), v128.load(pb), s0);
        pa += aStepK;
        pb += ldb;
      }
      v128.store(cj, s0);
    }
    for (; j < N; j++) {
      let s: f32 = 0;
      let pa = a0;
      let pb = b + <usize>j * 4;
      for (let k = 0; k < K; k++) {
        s += load<f32>(pa) * load<f32>(pb);
        pa += aStepK;
        pb += ldb;
      }
      const cj = ci + <usize>j * 4;
      store<f32>(cj, load<f32>(cj) + s);
    }
  }
}

/** Few rows, A untransposed, B transposed: C[i, j] += A[i, :] · B[j, :], four dot products at a time. */
function smallNT(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32): void {
  const lda = <usize>K * 4;
  const k4 = K & ~3;
  for (let i = 0; i < M; i++) {
    const ai = a + <usize>i * lda;
    const ci = c + <usize>i * <usize>N * 4;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = b + <usize>j * lda;
      const b1 = b0 + lda, b2 = b1 + lda, b3 = b2 + lda;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      for (let k = 0; k < k4; k += 4) {
        const off = <usize>k * 4;
        const av = v128.load(ai + off);
        s0 = madd(av, v128.load(b0 + off), s0);
        s1 = madd(av, v128.load(b1 + off), s1);
        s2 = madd(av, v128.load(b2 + off), s2);
        s3 = madd(av, v128.load(b3 + off), s3);
      }
      let d0 = hsum(s0), d1 = hsum(s1), d2 = hsum(s2), d3 = hsum(s3);
      for (let k = k4; k < K; k++) {
        const off = <usize>k * 4;
        const x = load<f32>(ai + off);
        d0 += x * load<f32>(b0 + off);
        d1 += x * load<f32>(b1 + off);
        d2 += x * load<f32>(b2 + off);
        d3 += x * load<f32>(b3 + off);
      }
      const cj = ci + <usize>j * 4;
      store<f32>(cj, load<f32>(cj) + d0);
      store<f32>(cj, load<f32>(cj, 4) + d1, 4);
      store<f32>(cj, load<f32>(cj, 8) + d2, 8);
      store<f32>(cj, load<f32>(cj, 12) + d3, 12);
    }
    for (; j < N; j++) {
      const bj = b + <usize>j * lda;
      let s0 = f32x4.splat(0);
      for (let k = 0; k < k4; k += 4) {
        const off = <usize>k * 4;
        s0 = madd(v128.load(ai + off), v128.load(bj + off), s0);
      }
      let d = hsum(s0);
      for (let k = k4; k < K; k++) d += load<f32>(ai + <usize>k * 4) * load<f32>(bj + <usize>k * 4);
      const cj = ci + <usize>j * 4;
      store<f32>(cj, load<f32>(cj) + d);
    }
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------------------------------------
// Element-wise kernels
// ---------------------------------------------------------------------------------------------

/** out[r, :] += v for every row r. */
export function addRowVector(out: usize, v: usize, rows: i32, cols: i32): void {
  const c4 = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const o = out + <usize>r * <usize>cols * 4;
    for (let j = 0; j < c4; j += 4) {
      const p = o + <usize>j * 4;
      v128.store(p, f32x4.add(v128.load(p), v128.load(v + <usize>j * 4)));
    }
    for (let j = c4; j < cols; j++) {
      const p = o + <usize>j * 4;
      store<f32>(p, load<f32>(p) + load<f32>(v + <usize>j * 4));
    }
  }
}

/** out[:] += Σ_r a[r, :], row by row (a streams through once; out stays in L1). */
export function sumRows(out: usize, a: usize, rows: i32, cols: i32): void {
  addRowsInto(out, a, rows, cols);
}

// out[:] += Σ_r a[r, :]; 16 columns at a time, then 4, then one.
function addRowsInto(out: usize, a: usize, rows: i32, cols: i32): void {
  const ld = <usize>cols * 4;
  let j = 0;
  for (; j + 16 <= cols; j += 16) {
    const o = out + <usize>j * 4;
    let s0 = v128.load(o), s1 = v128.load(o, 16), s2 = v128.load(o, 32), s3 = v128.load(o, 48);
    let p = a + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      p += ld;
    }
    v128.store(o, s0);
    v128.store(o, s1, 16);
    v128.store(o, s2, 32);
    v128.store(o, s3, 48);
  }
  for (; j + 4 <= cols; j += 4) {
    const o = out + <usize>j * 4;
    let s0 = v128.load(o);
    let p = a + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      p += ld;
    }
    v128.store(o, s0);
  }
  for (; j < cols; j++) {
    const o = out + <usize>j * 4;
    let s = load<f32>(o);
    let p = a + <usize>j * 4;
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += ld;
    }
    store<f32>(o, s);
  }
}

// The codes of the nonlinearities: the binding's NONLINEARITY_CODE (src/kernels/contract.ts; its
// test, src/kernels/contract.test.ts, reads these three lines). activateV and derivV test for TANH
// and RELU and take SIGMOID as the remaining case.
const TANH: i32 = 0;
const RELU: i32 = 1;
const SIGMOID: i32 = 2;

/** x = f1(x) in place; f: TANH, RELU or SIGMOID. */
export function activate(x: usize, f: i32, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const p = x + <usize>i * 4;
    v128.store(p, activateV(v128.load(p), f));
  }
  for (let i = n4; i < n; i++) {
    const p = x + <usize>i * 4;
    store<f32>(p, f32x4.extract_lane(activateV(f32x4.splat(load<f32>(p)), f), 0));
  }
}

// @ts-ignore: decorator
@inline function activateV(v: v128, f: i32): v128 {
  if (f == TANH) return tanhV(v);
  // relu: keep lanes > 0 (NaN → 0, as in the portable kernel)
  if (f == RELU) return v128.and(v, f32x4.gt(v, f32x4.splat(0)));
  return sigmoidV(v); // SIGMOID
}

// σ(x) = 1 / (1 + e^−x) of four lanes
// @ts-ignore: decorator
@inline function sigmoidV(v: v128): v128 {
  return f32x4.div(cst(EXP_C, 11), f32x4.add(cst(EXP_C, 11), expV(f32x4.neg(v))));
}

/** d = f1'(h̄) ⊙ d in place, f1' from the stored outputs y. */
export function activateBackward(d: usize, y: usize, f: i32, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    v128.store(d + o, derivV(v128.load(d + o), v128.load(y + o), f));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i * 4;
    const r = derivV(f32x4.splat(load<f32>(d + o)), f32x4.splat(load<f32>(y + o)), f);
    store<f32>(d + o, f32x4.extract_lane(r, 0));
  }
}

// @ts-ignore: decorator
@inline function derivV(dv: v128, yv: v128, f: i32): v128 {
  const one = f32x4.splat(1);
  if (f == TANH) return f32x4.mul(dv, f32x4.sub(one, f32x4.mul(yv, yv))); // 1 − y²
  if (f == RELU) return v128.and(dv, f32x4.gt(yv, f32x4.splat(0))); // [y > 0]
  return f32x4.mul(dv, f32x4.mul(yv, f32x4.sub(one, yv))); // SIGMOID: y(1 − y)
}

// Constants live in a table in memory and are loaded where used (v128.load32_splat, one cheap
// µop each): V8 rebuilds every inlined v128.const from immediates, which costs more than the load.
// Clamps use pmin/pmax (one instruction each); f32x4.min/max must also order NaN and ±0 and take several.
const TANH_C = memory.data<f32>([
  7.90531110763549805, -7.90531110763549805, // 0, 1: clamp
  -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8, // 2..5: α13 α11 α9 α7
  1.48572235717979e-5, 6.37261928875436e-4, 4.89352455891786e-3, // 6..8: α5 α3 α1
  1.19825839466702e-6, 1.18534705686654e-4, 2.26843463243900e-3, 4.89352518554385e-3, // 9..12: β6 β4 β2 β0
  0.0004, // 13: below this |x|, tanh x = x in float32
]);
const EXP_C = memory.data<f32>([
  88.0, -87.3, 1.44269504088896341, 0.693359375, -2.12194440e-4, // 0..4: clamp, log2 e, ln 2 = C1 + C2
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, // 5..10: p5..p0
  1.0, // 11
]);

// @ts-ignore: decorator
@inline function cst(table: usize, i: i32): v128 {
  return v128.load32_splat(table + <usize>i * 4);
}

/**
 * tanh of four lanes: Eigen's rational approximation (generic_fast_tanh_float), an odd degree-13
 * numerator over an even degree-6 denominator on [−7.9053, 7.9053], beyond which float32 tanh is ±1.
 * Error a few ulp; tiny |x| returns x.
 */
// @ts-ignore: decorator
@inline function tanhV(v: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(v, cst(TANH_C, 0)), cst(TANH_C, 1));
  const x2 = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(x2, cst(TANH_C, 2)), cst(TANH_C, 3));
  p = f32x4.add(f32x4.mul(x2, p), cst(TANH_C, 4));
  p = f32x4.add(f32x4.mul(x2, p), cst(TANH_C, 5));
  p = f32x4.add(f32x4.mul(x2, p), cst(TANH_C, 6));
  p = f32x4.add(f32x4.mul(x2, p), cst(TANH_C, 7));
  p = f32x4.add(f32x4.mul(x2, p), cst(TANH_C, 8));
  p = f32x4.mul(x, p);
  let q = f32x4.add(f32x4.mul(x2, cst(TANH_C, 9)), cst(TANH_C, 10));
  q = f32x4.add(f32x4.mul(x2, q), cst(TANH_C, 11));
  q = f32x4.add(f32x4.mul(x2, q), cst(TANH_C, 12));
  const tiny = f32x4.lt(f32x4.abs(v), cst(TANH_C, 13));
  return v128.bitselect(v, f32x4.div(p, q), tiny);
}

/**
 * e^x of four lanes (Cephes expf): x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r,
 * 2^n built in the exponent bits. Inputs are clamped to [−87.3, 88] (float32 range).
 */
// @ts-ignore: decorator
@inline function expV(v: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(v, cst(EXP_C, 0)), cst(EXP_C, 1));
  const n = f32x4.nearest(f32x4.mul(x, cst(EXP_C, 2)));
  // r = x − n·ln2, ln2 split in two (Cody–Waite) so that n·C1 is exact
  let r = f32x4.sub(x, f32x4.mul(n, cst(EXP_C, 3)));
  r = f32x4.sub(r, f32x4.mul(n, cst(EXP_C, 4)));
  let y = cst(EXP_C, 5);
  y = f32x4.add(f32x4.mul(y, r), cst(EXP_C, 6));
  y = f32x4.add(f32x4.mul(y, r), cst(EXP_C, 7));
  y = f32x4.add(f32x4.mul(y, r), cst(EXP_C, 8));
  y = f32x4.add(f32x4.mul(y, r), cst(EXP_C, 9));
  y = f32x4.add(f32x4.mul(y, r), cst(EXP_C, 10));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), cst(EXP_C, 11));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2n);
}

// ---------------------------------------------------------------------------------------------
// Gated cells: a row holds G blocks of H (LSTM [i | f | g | o], GRU [r | z | n]); the equations
// are L1–L9 and G1–G10 of the Kernels interface (src/kernels/types.ts). Each step below works on
// four consecutive j of every block of one row, or, with `one`, on a single j (the H % 4
// remainder: a splat load, lane 0 stored). Every step loads all it reads before it stores, so
// the in-place uses the interface allows (dGates = gates, dx = gates, dhProj = hProj) are safe.
// ---------------------------------------------------------------------------------------------

// four lanes at p, or the float at p in every lane when `one`
// @ts-ignore: decorator
@inline function ld(p: usize, one: bool): v128 {
  return one ? v128.load32_splat(p) : v128.load(p);
}

// four lanes to p, or lane 0 alone when `one`
// @ts-ignore: decorator
@inline function st(p: usize, v: v128, one: bool): void {
  if (one) v128.store32_lane(p, v, 0);
  else v128.store(p, v);
}

/** LSTM forward, L2–L4: gates (rows×4H) from pre-activations to [i, f, g, o]; c, h (rows×H) out. */
export function lstmCellForward(gates: usize, c: usize, h: usize, cPrev: usize, rows: i32, H: i32): void {
  const hb = <usize>H * 4; // bytes of one block
  const h4 = H & ~3;
  for (let r = 0; r < rows; r++) {
    const g = gates + <usize>r * 4 * hb, o = <usize>r * hb;
    for (let j = 0; j < h4; j += 4) {
      const e = <usize>j * 4;
      lstmForwardStep(g + e, hb, c + o + e, h + o + e, cPrev + o + e, false);
    }
    for (let j = h4; j < H; j++) {
      const e = <usize>j * 4;
      lstmForwardStep(g + e, hb, c + o + e, h + o + e, cPrev + o + e, true);
    }
  }
}

// @ts-ignore: decorator
@inline function lstmForwardStep(g: usize, hb: usize, c: usize, h: usize, cPrev: usize, one: bool): void {
  // L2  i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
  const iv = sigmoidV(ld(g, one));
  const fv = sigmoidV(ld(g + hb, one));
  const gv = tanhV(ld(g + 2 * hb, one));
  const ov = sigmoidV(ld(g + 3 * hb, one));
  st(g, iv, one);
  st(g + hb, fv, one);
  st(g + 2 * hb, gv, one);
  st(g + 3 * hb, ov, one);
  // L3  c_t = f ⊙ c_{t−1} + i ⊙ g
  const cv = f32x4.add(f32x4.mul(fv, ld(cPrev, one)), f32x4.mul(iv, gv));
  st(c, cv, one);
  // L4  h_t = o ⊙ tanh(c_t)
  st(h, f32x4.mul(ov, tanhV(cv)), one);
}

/** LSTM backward, L6–L9: dGates (rows×4H, may be gates) out; dc (rows×H) from the carry in to dc_t; dcPrev (rows×H) the carry out. */
export function lstmCellBackward(
  dGates: usize, dcPrev: usize, dc: usize, dh: usize, gates: usize, c: usize, cPrev: usize, rows: i32, H: i32,
): void {
  const hb = <usize>H * 4;
  const h4 = H & ~3;
  for (let r = 0; r < rows; r++) {
    const ro = <usize>r * 4 * hb, o = <usize>r * hb;
    for (let j = 0; j < h4; j += 4) {
      const e = <usize>j * 4;
      lstmBackwardStep(dGates + ro + e, gates + ro + e, hb, dcPrev + o + e, dc + o + e, dh + o + e, c + o + e, cPrev + o + e, false);
    }
    for (let j = h4; j < H; j++) {
      const e = <usize>j * 4;
      lstmBackwardStep(dGates + ro + e, gates + ro + e, hb, dcPrev + o + e, dc + o + e, dh + o + e, c + o + e, cPrev + o + e, true);
    }
  }
}

// @ts-ignore: decorator
@inline function lstmBackwardStep(
  dg: usize, g: usize, hb: usize, dcPrev: usize, dc: usize, dh: usize, c: usize, cPrev: usize, one: bool,
): void {
  const iv = ld(g, one), fv = ld(g + hb, one), gv = ld(g + 2 * hb, one), ov = ld(g + 3 * hb, one);
  const dhv = ld(dh, one);
  const onev = cst(EXP_C, 11);
  // L4  h_t = o ⊙ tanh(c_t): tanh(c_t) recomputed (the same bits lstmCellForward used)
  const tc = tanhV(ld(c, one));
  // L6  dc_t = dc (carried from t+1) + dh ⊙ o ⊙ (1 − tanh²(c_t))
  const dct = f32x4.add(ld(dc, one), f32x4.mul(f32x4.mul(dhv, ov), f32x4.sub(onev, f32x4.mul(tc, tc))));
  // L7  da_i = dc_t ⊙ g ⊙ i(1−i);  da_f = dc_t ⊙ c_{t−1} ⊙ f(1−f);  da_g = dc_t ⊙ i ⊙ (1−g²);  da_o = dh ⊙ tanh(c_t) ⊙ o(1−o)
  const dai = f32x4.mul(f32x4.mul(dct, gv), f32x4.mul(iv, f32x4.sub(onev, iv)));
  const daf = f32x4.mul(f32x4.mul(dct, ld(cPrev, one)), f32x4.mul(fv, f32x4.sub(onev, fv)));
  const dag = f32x4.mul(f32x4.mul(dct, iv), f32x4.sub(onev, f32x4.mul(gv, gv)));
  const dao = f32x4.mul(f32x4.mul(dhv, tc), f32x4.mul(ov, f32x4.sub(onev, ov)));
  st(dg, dai, one);
  st(dg + hb, daf, one);
  st(dg + 2 * hb, dag, one);
  st(dg + 3 * hb, dao, one);
  // L6  dc_t kept; L9  carry to step t−1: f ⊙ dc_t
  st(dc, dct, one);
  st(dcPrev, f32x4.mul(fv, dct), one);
}

/** GRU forward, G2–G4: gates (rows×3H) from a^x to [r, z, n]; hProj (a^h) read; h (rows×H) out. */
export function gruCellForward(gates: usize, hProj: usize, h: usize, hPrev: usize, rows: i32, H: i32): void {
  const hb = <usize>H * 4;
  const h4 = H & ~3;
  for (let r = 0; r < rows; r++) {
    const ro = <usize>r * 3 * hb, o = <usize>r * hb;
    for (let j = 0; j < h4; j += 4) {
      const e = <usize>j * 4;
      gruForwardStep(gates + ro + e, hProj + ro + e, hb, h + o + e, hPrev + o + e, false);
    }
    for (let j = h4; j < H; j++) {
      const e = <usize>j * 4;
      gruForwardStep(gates + ro + e, hProj + ro + e, hb, h + o + e, hPrev + o + e, true);
    }
  }
}

// @ts-ignore: decorator
@inline function gruForwardStep(g: usize, p: usize, hb: usize, h: usize, hPrev: usize, one: bool): void {
  // G2  r = σ(a^x_r + a^h_r), z = σ(a^x_z + a^h_z)
  const rv = sigmoidV(f32x4.add(ld(g, one), ld(p, one)));
  const zv = sigmoidV(f32x4.add(ld(g + hb, one), ld(p + hb, one)));
  // G3  n = tanh(a^x_n + r ⊙ a^h_n)
  const nv = tanhV(f32x4.add(ld(g + 2 * hb, one), f32x4.mul(rv, ld(p + 2 * hb, one))));
  st(g, rv, one);
  st(g + hb, zv, one);
  st(g + 2 * hb, nv, one);
  // G4  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, as n + z ⊙ (h_{t−1} − n)
  st(h, f32x4.add(nv, f32x4.mul(zv, f32x4.sub(ld(hPrev, one), nv))), one);
}

/**
 * GRU backward, G6–G10: dx (rows×3H, may be gates), dhProj (rows×3H, may be hProj) and
 * dhPrev = z ⊙ dh (rows×H, not dh) out.
 */
export function gruCellBackward(
  dx: usize, dhProj: usize, dhPrev: usize, dh: usize, gates: usize, hProj: usize, hPrev: usize, rows: i32, H: i32,
): void {
  const hb = <usize>H * 4;
  const h4 = H & ~3;
  for (let r = 0; r < rows; r++) {
    const ro = <usize>r * 3 * hb, o = <usize>r * hb;
    for (let j = 0; j < h4; j += 4) {
      const e = <usize>j * 4, ge = ro + e, he = o + e;
      gruBackwardStep(dx + ge, dhProj + ge, dhPrev + he, dh + he, gates + ge, hProj + ge, hPrev + he, hb, false);
    }
    for (let j = h4; j < H; j++) {
      const e = <usize>j * 4, ge = ro + e, he = o + e;
      gruBackwardStep(dx + ge, dhProj + ge, dhPrev + he, dh + he, gates + ge, hProj + ge, hPrev + he, hb, true);
    }
  }
}

// @ts-ignore: decorator
@inline function gruBackwardStep(
  dx: usize, dp: usize, dhPrev: usize, dh: usize, g: usize, p: usize, hPrev: usize, hb: usize, one: bool,
): void {
  const rv = ld(g, one), zv = ld(g + hb, one), nv = ld(g + 2 * hb, one), ahn = ld(p + 2 * hb, one);
  const dhv = ld(dh, one);
  const onev = cst(EXP_C, 11);
  // G6  dn = dh ⊙ (1 − z);  dz = dh ⊙ (h_{t−1} − n)
  const dn = f32x4.mul(dhv, f32x4.sub(onev, zv));
  const dz = f32x4.mul(dhv, f32x4.sub(ld(hPrev, one), nv));
  // G7  da^x_n = dn ⊙ (1 − n²);  dr = da^x_n ⊙ a^h_n
  const daxn = f32x4.mul(dn, f32x4.sub(onev, f32x4.mul(nv, nv)));
  const dr = f32x4.mul(daxn, ahn);
  // G8  da_r = dr ⊙ r(1−r);  da_z = dz ⊙ z(1−z)   (the same for a^x and a^h)
  const dar = f32x4.mul(dr, f32x4.mul(rv, f32x4.sub(onev, rv)));
  const daz = f32x4.mul(dz, f32x4.mul(zv, f32x4.sub(onev, zv)));
  st(dx, dar, one);
  st(dx + hb, daz, one);
  st(dx + 2 * hb, daxn, one);
  st(dp, dar, one);
  st(dp + hb, daz, one);
  // G7  da^h_n = da^x_n ⊙ r
  st(dp + 2 * hb, f32x4.mul(daxn, rv), one);
  // G10 the direct part of dh_{t−1}: z ⊙ dh
  st(dhPrev, f32x4.mul(zv, dhv), one);
}

/**
 * Row softmax in place and Σ_r −log y[r, targets[r]] (float64). Per row: max, e^(ȳ − max) and
 * its sum in one pass, then one scaling pass.
 */
export function softmaxCrossEntropy(logits: usize, targets: usize, rows: i32, V: i32): f64 {
  const v4 = V & ~3;
  let loss: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const o = logits + <usize>r * <usize>V * 4;
    let mv = f32x4.splat(-Infinity);
    for (let j = 0; j < v4; j += 4) mv = f32x4.pmax(mv, v128.load(o + <usize>j * 4));
    let m: f32 = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (let j = v4; j < V; j++) m = max(m, load<f32>(o + <usize>j * 4));
    const target = load<i32>(targets + <usize>r * 4);
    const zTarget = <f64>load<f32>(o + <usize>target * 4) - <f64>m;
    const maxV = f32x4.splat(m);
    let sv = f32x4.splat(0);
    for (let j = 0; j < v4; j += 4) {
      const p = o + <usize>j * 4;
      const e = expV(f32x4.sub(v128.load(p), maxV));
      v128.store(p, e);
      sv = f32x4.add(sv, e);
    }
    let sum = <f64>hsum(sv);
    for (let j = v4; j < V; j++) {
      const p = o + <usize>j * 4;
      const e = f32x4.extract_lane(expV(f32x4.splat(load<f32>(p) - m)), 0);
      store<f32>(p, e);
      sum += <f64>e;
    }
    // −log y[k] = log Σ e^(ȳ − max) − (ȳ_k − max)
    loss += Math.log(sum) - zTarget;
    const inv = f32x4.splat(<f32>(1 / sum));
    for (let j = 0; j < v4; j += 4) {
      const p = o + <usize>j * 4;
      v128.store(p, f32x4.mul(v128.load(p), inv));
    }
    for (let j = v4; j < V; j++) {
      const p = o + <usize>j * 4;
      store<f32>(p, load<f32>(p) * f32x4.extract_lane(inv, 0));
    }
  }
  return loss;
}

/** y = scale·(y − onehot(target)) row by row, in place. */
export function softmaxCrossEntropyBackward(y: usize, targets: usize, rows: i32, V: i32, scale: f32): void {
  for (let r = 0; r < rows; r++) {
    const o = y + <usize>r * <usize>V * 4;
    const p = o + <usize>load<i32>(targets + <usize>r * 4) * 4;
    store<f32>(p, load<f32>(p) - 1);
  }
  if (scale == 1) return;
  const n = rows * V;
  const n4 = n & ~3;
  const s = f32x4.splat(scale);
  for (let i = 0; i < n4; i += 4) {
    const p = y + <usize>i * 4;
    v128.store(p, f32x4.mul(v128.load(p), s));
  }
  for (let i = n4; i < n; i++) {
    const p = y + <usize>i * 4;
    store<f32>(p, load<f32>(p) * scale);
  }
}

// The one-hot products touch one element of each of H rows of W (H×V) per row of the batch: taken
// a batch row at a time, that is H cache lines spread over all of W (H·V floats, past L1 from
// H = 128 at V = 65). So they run in tiles: ONE_HOT_ROWS batch rows (their slice of d or out stays
// in L2 even at H = 4096) by ONE_HOT_BLOCK rows of W (64 rows of V = 65 floats: 17 KiB, in L1).
// Each element of W still sees the batch rows in order: the same sums, bit for bit. Measured on
// one core (2026-12-03, against the untiled loops): 1.3–1.8× at M and L, 1.8× at V = 5,000.
const ONE_HOT_BLOCK: i32 = 64;
const ONE_HOT_ROWS: i32 = 16;

/** out[r, j] = W[j, ids[r]]: the one-hot product W x for every row. */
export function gatherColumns(out: usize, W: usize, ids: usize, rows: i32, H: i32, V: i32): void {
  oneHotTiles(out, W, ids, rows, H, V, false);
}

/** dW[j, ids[r]] += d[r, j]: the one-hot product d xᵀ for every row. */
export function scatterAddColumns(dW: usize, d: usize, ids: usize, rows: i32, H: i32, V: i32): void {
  oneHotTiles(d, dW, ids, rows, H, V, true);
}

/** The tiled loops of both one-hot products: x (rows×H) and W (H×V); gather x[r, j] = W[j, ids[r]], or scatter W[j, ids[r]] += x[r, j]. */
// @ts-ignore: decorator
@inline function oneHotTiles(x: usize, W: usize, ids: usize, rows: i32, H: i32, V: i32, scatter: bool): void {
  const ldw = <usize>V * 4;
  for (let r0 = 0; r0 < rows; r0 += ONE_HOT_ROWS) {
    const r1 = min(rows, r0 + ONE_HOT_ROWS);
    for (let j0 = 0; j0 < H; j0 += ONE_HOT_BLOCK) {
      const jb = min(ONE_HOT_BLOCK, H - j0);
      const w0 = W + <usize>j0 * ldw;
      for (let r = r0; r < r1; r++) {
        const o = x + (<usize>r * <usize>H + <usize>j0) * 4;
        let w = w0 + <usize>load<i32>(ids + <usize>r * 4) * 4;
        for (let j = 0; j < jb; j++) {
          if (scatter) store<f32>(w, load<f32>(w) + load<f32>(o + <usize>j * 4));
          else store<f32>(o + <usize>j * 4, load<f32>(w));
          w += ldw;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer update
// ---------------------------------------------------------------------------------------------

/**
 * Adam (O5 of src/train/optimizers.ts) over n values, bit for bit the portable loop: float32
 * storage, float64 arithmetic in the same order (two f64x2 halves of each f32x4; f64 mul, add,
 * div and sqrt are correctly rounded in both, and demotion rounds to nearest even like a
 * Float32Array store).
 */
export function adamUpdate(
  p: usize, m: usize, v: usize, g: usize, n: i32,
  stepSize: f64, sqrtBc2: f64, beta1: f64, beta2: f64, eps: f64,
): void {
  // 1 − β in float64, as the portable kernel computes them
  const omb1 = 1.0 - beta1, omb2 = 1.0 - beta2;
  const n4 = n & ~3;
  const sS = f64x2.splat(stepSize), sB = f64x2.splat(sqrtBc2), b1 = f64x2.splat(beta1), b2 = f64x2.splat(beta2);
  const o1 = f64x2.splat(omb1), o2 = f64x2.splat(omb2), e = f64x2.splat(eps);
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    const g4 = v128.load(g + o), m4 = v128.load(m + o), v4 = v128.load(v + o), p4 = v128.load(p + o);
    const gh = hi(g4), mh = hi(m4), vh = hi(v4), ph = hi(p4);
    // low two lanes, then high two lanes
    const gl = f64x2.promote_low_f32x4(g4), ml = f64x2.promote_low_f32x4(m4), vl = f64x2.promote_low_f32x4(v4), pl = f64x2.promote_low_f32x4(p4);
    // O5  m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g·g
    const mlN = f64x2.add(f64x2.mul(b1, ml), f64x2.mul(o1, gl));
    const mhN = f64x2.add(f64x2.mul(b1, mh), f64x2.mul(o1, gh));
    const vlN = f64x2.add(f64x2.mul(b2, vl), f64x2.mul(f64x2.mul(o2, gl), gl));
    const vhN = f64x2.add(f64x2.mul(b2, vh), f64x2.mul(f64x2.mul(o2, gh), gh));
    // O5  p −= (lr/(1−β1^t))·m / (√v/√(1−β2^t) + ε)
    const plN = f64x2.sub(pl, f64x2.div(f64x2.mul(sS, mlN), f64x2.add(f64x2.div(f64x2.sqrt(vlN), sB), e)));
    const phN = f64x2.sub(ph, f64x2.div(f64x2.mul(sS, mhN), f64x2.add(f64x2.div(f64x2.sqrt(vhN), sB), e)));
    v128.store(m + o, join(mlN, mhN));
    v128.store(v + o, join(vlN, vhN));
    v128.store(p + o, join(plN, phN));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i * 4;
    const gi = <f64>load<f32>(g + o);
    const mi = beta1 * <f64>load<f32>(m + o) + omb1 * gi;
    const vi = beta2 * <f64>load<f32>(v + o) + omb2 * gi * gi;
    store<f32>(m + o, <f32>mi);
    store<f32>(v + o, <f32>vi);
    store<f32>(p + o, <f32>(<f64>load<f32>(p + o) - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps)));
  }
}

// lanes 2, 3 of an f32x4 as an f64x2
// @ts-ignore: decorator
@inline function hi(x: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
}

// two f64x2 as one f32x4 (rounded to nearest even)
// @ts-ignore: decorator
@inline function join(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}
