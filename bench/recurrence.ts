/**
 * `npx vite-node bench/recurrence.ts`: the recurrence's per-step products of one chunk (T = 50
 * forward products h·W_hhᵀ and 50 BPTT products da·W_hh, at each reference shape's B, H and gate
 * count) two ways in one run, interleaved: `gemm` per step (packing W_hh inside every call), and
 * `packB` once per pass then `gemmPacked` per step — what the cells do since W_hh is packed once
 * (src/cells/buffers.ts `recurrentProduct`). Prints GFLOP/s of each and the ratio; one thread, the
 * default WebAssembly build. S (B = 1) is listed for the record: the cells multiply a batch under
 * 4 rows directly, where the GEMM does not pack W_hh anyway.
 */
import { createWasmKernels } from "../src/kernels/wasm.ts";
import { packedFloats } from "../src/kernels/packed.ts";
const k = createWasmKernels();
console.log(`kernels: wasm-${k.build}; T = 50; per-step gemm vs W_hh packed once (packB + gemmPacked)`);
const T = 50;
for (const [name, B, H, G] of [["S rnn", 1, 100, 1], ["M rnn", 32, 256, 1], ["M lstm", 32, 256, 4], ["M gru", 32, 256, 3], ["L rnn", 64, 1024, 1], ["L lstm", 64, 1024, 4]] as const) {
  const N = G * H, K = H;
  const W = k.allocate(N * K), a = k.allocate(B * K), c = k.allocate(B * N), packed = k.allocate(Math.max(packedFloats(N, K), packedFloats(K, N)));
  const dA = k.allocate(B * N), dC = k.allocate(B * K);
  for (let i = 0; i < W.length; i++) W[i] = Math.sin(i);
  for (let i = 0; i < a.length; i++) a[i] = Math.cos(i);
  for (let i = 0; i < dA.length; i++) dA[i] = Math.cos(i * 0.7);
  const reps = Math.max(1, Math.round(2e9 / (T * 4 * B * N * K)));
  let tGemm = 0, tPacked = 0;
  for (let r = 0; r < 2 * reps + 2; r++) {
    const t0 = performance.now();
    for (let t = 0; t < T; t++) k.gemm(c, a, W, B, N, K, false, true, true); // forward: h W^T
    for (let t = 0; t < T; t++) k.gemm(dC, dA, W, B, K, N, false, false, true); // backward: da W
    const t1 = performance.now();
    k.packB(packed, W, N, K, true);
    for (let t = 0; t < T; t++) k.gemmPacked(c, a, packed, B, N, K, false, true);
    k.packB(packed, W, K, N, false);
    for (let t = 0; t < T; t++) k.gemmPacked(dC, dA, packed, B, K, N, false, true);
    const t2 = performance.now();
    if (r >= 2) { tGemm += t1 - t0; tPacked += t2 - t1; }
  }
  const flops = 2 * 2 * T * B * N * K * 2 * reps;
  console.log(`${name}: per-step gemm ${(flops / tGemm / 1e6).toFixed(1)} GFLOP/s, packed once ${(flops / tPacked / 1e6).toFixed(1)} GFLOP/s, ratio ${(tGemm / tPacked).toFixed(2)}x`);
  for (const x of [W, a, c, packed, dA, dC]) k.free(x);
}
