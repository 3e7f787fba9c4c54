/**
 * The float64 reference of the RNN language model: forward (F1–F5) and exact backpropagation
 * through time (B1–B6) in plain loops, one equation per statement or small loop, each tagged
 * with its equation (DESIGN §1, STYLE §2). It is the oracle of every test and the code to read
 * next to docs/derivation.md, so it is written for clarity, not speed, and it shares no code with
 * the fast engine (no kernels/, no nn/): an oracle that reuses the code it checks proves nothing.
 *
 * Dims: T steps, B sequences, V vocabulary, H hidden units, L layers; in_0 = V, in_k = H (k ≥ 1).
 * Sequences are independent, so the loops run over b outside and t inside, as in the math.
 * For sequence b at step t (t = 1..T), layer k = 0..L−1, whose input is the one-hot x_t for k = 0
 * and the output h^(k−1)_t of the layer below for k ≥ 1:
 *
 *   F1  h̄_t = W_i x_t + W_h h_{t−1} + b_h     W_i (H, in_k), W_h (H, H), b_h = b_ih + b_hh
 *   F2  h_t = f1(h̄_t)                        f1 = tanh | relu | sigmoid
 * and on top of the last layer:
 *   F3  ȳ_t = W_o h_t + b_o                   W_o (V, H), b_o (V)
 *   F4  y_t = softmax(ȳ_t)                    with max-subtraction
 *   F5  E = Σ_{b,t} −log y_t[k_t]             k_t = the target, the symbol after x_t
 *
 * Backward, t = T..1, and within a step from the top layer down (dz means ∂E/∂z):
 *   B1  dȳ_t = y_t − onehot(k_t)
 *   B2  dW_o += dȳ_t h_tᵀ ;  db_o += dȳ_t
 *   B3  dh_t = W_oᵀ dȳ_t (top layer) or W_i^(k+1)ᵀ dh̄^(k+1)_t (below it)  +  W_hᵀ dh̄_{t+1},
 *       dh̄_{T+1} = 0 (truncated BPTT: the gradient is not carried past the chunk)
 *   B4  dh̄_t = f1'(h_t) ⊙ dh_t               f1' from the output: tanh 1−h², sigmoid h(1−h), relu [h>0]
 *   B5  dW_i += dh̄_t x_tᵀ (one-hot: add dh̄_t into column x_t) ; dW_h += dh̄_t h_{t−1}ᵀ ;
 *       db_ih += dh̄_t ; db_hh += dh̄_t       (b_h = b_ih + b_hh, so both get ∂E/∂b_h)
 *   B6  dh_0 = W_hᵀ dh̄_1
 *
 * Layouts: matrices row-major (out, in), so W[i*in + j] is row i, column j. The forward keeps
 * h^(k) of every layer as (T+1, B, H) with h_0 in slot 0, y as (T, B, V) and the loss of each
 * step as (T, B); h̄ is not kept,
 * since B4 needs only h_t. h0, dh0 and hT are (L, B, H), layer-major like PyTorch's h_0.
 * Memory: L·(T+1)·B·H + T·B·(V+1) float64 values.
 */
import { ShapeError } from "../errors.ts";
import type { Batch } from "../model/batch.ts";
import { validateBatch } from "../model/batch.ts";
import type { ModelConfig, Nonlinearity } from "../model/config.ts";
import { validateModelConfig } from "../model/config.ts";
import { paramCount, paramViews } from "../model/params.ts";

/** Everything the backward pass needs from the forward pass (STYLE §4: an explicit cache). */
export interface ReferenceCache {
  /** The model shape. */
  readonly config: ModelConfig;
  /** The flat parameters the forward pass ran with (paramSpecs layout; not copied). */
  readonly params: Float64Array;
  /** The batch the forward pass ran on. */
  readonly batch: Batch;
  /** h[k]: outputs of layer k, (T+1, B, H); slot 0 is h_0, slot t is h_t. */
  readonly h: readonly Float64Array[];
  /** Softmax outputs, (T, B, V); slot t−1 is y_t. */
  readonly y: Float64Array;
  /** Loss of each step, −log y_t[k_t], (T, B); E is their sum. Kept for gradcheck's differences. */
  readonly losses: Float64Array;
  /** E of F5, summed over t and b. */
  readonly loss: number;
}

/** Loss, gradients and state of one forward and backward pass. */
export interface ReferenceResult {
  /** E = −Σ_{t,b} log y_t[k_t], summed over time and batch (the article's E). */
  readonly loss: number;
  /** ∂E/∂θ, flat, in the paramSpecs layout. */
  readonly grads: Float64Array;
  /** ∂E/∂h_0, (L, B, H). */
  readonly dh0: Float64Array;
  /** The final hidden state h_T, (L, B, H): the h0 of the next chunk in truncated BPTT. */
  readonly hT: Float64Array;
}

/**
 * Forward pass F1–F5 over a batch, keeping every h_t and y_t for the backward pass.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param h0 initial hidden state (L, B, H); omitted = zeros
 * @returns the cache, whose `loss` is E
 * @throws ShapeError / DataError / ConfigError on inconsistent inputs
 */
export function referenceForward(config: ModelConfig, params: Float64Array, batch: Batch, h0?: Float64Array): ReferenceCache {
  checkInputs(config, params, batch, h0);
  const { hiddenSize: H, vocabSize: V, layers: L, nonlinearity } = config;
  const { T, B, inputs, targets } = batch;
  const P = paramViews(config, params);

  const h: Float64Array[] = [];
  for (let k = 0; k < L; k++) {
    const hk = new Float64Array((T + 1) * B * H);
    if (h0 !== undefined) hk.set(h0.subarray(k * B * H, (k + 1) * B * H)); // slot 0 = h_0 of layer k
    h.push(hk);
  }
  const y = new Float64Array(T * B * V);
  const losses = new Float64Array(T * B);
  const yBar = new Float64Array(V);
  let E = 0;

  for (let b = 0; b < B; b++) {
    for (let t = 1; t <= T; t++) {
      const x = inputs[(t - 1) * B + b]; // x_t as a token id
      const cur = (t * B + b) * H; // offset of h_t of sequence b in a (T+1, B, H) array
      const prev = ((t - 1) * B + b) * H; // offset of h_{t−1}

      for (let k = 0; k < L; k++) {
        const { Wi, Wh, bih, bhh } = P.layers[k];
        const hk = h[k];
        for (let i = 0; i < H; i++) {
          // F1  h̄_t[i] = (W_i x_t)[i] + (W_h h_{t−1})[i] + b_h[i]
          let hBar = bih !== undefined && bhh !== undefined ? bih[i] + bhh[i] : 0;
          if (k === 0) {
            hBar += Wi[i * V + x]; // one-hot x_t: W_i x_t is column x_t of W_i
          } else {
            const below = h[k - 1]; // the input of layer k is h^(k−1)_t
            for (let j = 0; j < H; j++) hBar += Wi[i * H + j] * below[cur + j];
          }
          for (let j = 0; j < H; j++) hBar += Wh[i * H + j] * hk[prev + j];
          // F2  h_t = f1(h̄_t)
          hk[cur + i] = f1(nonlinearity, hBar);
        }
      }

      const top = h[L - 1];
      const r = ((t - 1) * B + b) * V; // offset of y_t of sequence b in the (T, B, V) array
      // F3  ȳ_t = W_o h_t + b_o
      for (let v = 0; v < V; v++) {
        let s = P.bo !== undefined ? P.bo[v] : 0;
        for (let j = 0; j < H; j++) s += P.Wo[v * H + j] * top[cur + j];
        yBar[v] = s;
      }
      // F4  y_t = softmax(ȳ_t) = exp(ȳ_t − m) / Σ exp(ȳ_t − m), m = max ȳ_t (no overflow)
      let m = -Infinity;
      for (let v = 0; v < V; v++) m = Math.max(m, yBar[v]);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(yBar[v] - m);
      for (let v = 0; v < V; v++) y[r + v] = Math.exp(yBar[v] - m) / sum;
      // F5  E += −log y_t[k_t] = log Σ exp(ȳ_t) − ȳ_t[k_t]  (finite even where y_t[k_t] underflows to 0)
      losses[(t - 1) * B + b] = m + Math.log(sum) - yBar[targets[(t - 1) * B + b]];
      E += losses[(t - 1) * B + b];
    }
  }
  return { config, params, batch, h, y, losses, loss: E };
}

/**
 * Backward pass B1–B6: full backpropagation through time over the cached forward pass.
 * @param cache the result of `referenceForward`
 * @returns ∂E/∂θ (flat, paramSpecs layout) and ∂E/∂h_0 (L, B, H)
 */
export function referenceBackward(cache: ReferenceCache): { grads: Float64Array; dh0: Float64Array } {
  const { config, params, batch, h, y } = cache;
  const { hiddenSize: H, vocabSize: V, layers: L, nonlinearity } = config;
  const { T, B, inputs, targets } = batch;
  const P = paramViews(config, params);
  const grads = new Float64Array(params.length);
  const G = paramViews(config, grads);
  const dh0 = new Float64Array(L * B * H);

  const dyBar = new Float64Array(V);
  const dh = new Float64Array(H);
  // dh̄^(k)_t of the step being processed, and dh̄^(k)_{t+1} of the step processed just before it
  let dhBar: Float64Array[] = Array.from({ length: L }, () => new Float64Array(H));
  let dhBarNext: Float64Array[] = Array.from({ length: L }, () => new Float64Array(H));

  for (let b = 0; b < B; b++) {
    for (const d of dhBarNext) d.fill(0); // dh̄_{T+1} = 0
    for (let t = T; t >= 1; t--) {
      const x = inputs[(t - 1) * B + b];
      const cur = (t * B + b) * H;
      const prev = ((t - 1) * B + b) * H;
      const r = ((t - 1) * B + b) * V;
      const top = h[L - 1];

      // B1  dȳ_t = y_t − onehot(k_t)
      for (let v = 0; v < V; v++) dyBar[v] = y[r + v];
      dyBar[targets[(t - 1) * B + b]] -= 1;
      // B2  dW_o += dȳ_t h_tᵀ ;  db_o += dȳ_t
      for (let v = 0; v < V; v++) {
        for (let j = 0; j < H; j++) G.Wo[v * H + j] += dyBar[v] * top[cur + j];
      }
      if (G.bo !== undefined) for (let v = 0; v < V; v++) G.bo[v] += dyBar[v];

      for (let k = L - 1; k >= 0; k--) {
        const { Wh } = P.layers[k];
        const dW = G.layers[k];
        const hk = h[k];
        const dhb = dhBar[k];
        const dhbNext = dhBarNext[k];
        // B3  dh_t = (W_oᵀ dȳ_t  or  W_i^(k+1)ᵀ dh̄^(k+1)_t)  +  W_hᵀ dh̄_{t+1}
        if (k === L - 1) {
          for (let j = 0; j < H; j++) {
            let s = 0;
            for (let v = 0; v < V; v++) s += P.Wo[v * H + j] * dyBar[v];
            dh[j] = s;
          }
        } else {
          const WiAbove = P.layers[k + 1].Wi; // (H, H): layer k+1 reads h^(k)_t through it
          const dhbAbove = dhBar[k + 1];
          for (let j = 0; j < H; j++) {
            let s = 0;
            for (let i = 0; i < H; i++) s += WiAbove[i * H + j] * dhbAbove[i];
            dh[j] = s;
          }
        }
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let i = 0; i < H; i++) s += Wh[i * H + j] * dhbNext[i];
          dh[j] += s;
        }
        // B4  dh̄_t = f1'(h_t) ⊙ dh_t
        for (let i = 0; i < H; i++) dhb[i] = f1Prime(nonlinearity, hk[cur + i]) * dh[i];
        // B5  dW_i += dh̄_t x_tᵀ  (layer 0: column x_t only; above: the input is h^(k−1)_t)
        if (k === 0) {
          for (let i = 0; i < H; i++) dW.Wi[i * V + x] += dhb[i];
        } else {
          const below = h[k - 1];
          for (let i = 0; i < H; i++) {
            for (let j = 0; j < H; j++) dW.Wi[i * H + j] += dhb[i] * below[cur + j];
          }
        }
        // B5  dW_h += dh̄_t h_{t−1}ᵀ
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < H; j++) dW.Wh[i * H + j] += dhb[i] * hk[prev + j];
        }
        // B5  db_ih += dh̄_t ;  db_hh += dh̄_t
        if (dW.bih !== undefined && dW.bhh !== undefined) {
          for (let i = 0; i < H; i++) {
            dW.bih[i] += dhb[i];
            dW.bhh[i] += dhb[i];
          }
        }
      }
      // dh̄_t becomes the dh̄_{t+1} of the next step back
      [dhBar, dhBarNext] = [dhBarNext, dhBar];
    }
    // B6  dh_0 = W_hᵀ dh̄_1  (after the last swap, dhBarNext holds dh̄_1)
    for (let k = 0; k < L; k++) {
      const { Wh } = P.layers[k];
      const dhb1 = dhBarNext[k];
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let i = 0; i < H; i++) s += Wh[i * H + j] * dhb1[i];
        dh0[(k * B + b) * H + j] = s;
      }
    }
  }
  return { grads, dh0 };
}

/**
 * Loss and final hidden state, forward only.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param h0 initial hidden state (L, B, H); omitted = zeros
 * @returns E (summed over t and b) and h_T (L, B, H)
 */
export function referenceLoss(
  config: ModelConfig,
  params: Float64Array,
  batch: Batch,
  h0?: Float64Array,
): { loss: number; hT: Float64Array } {
  const cache = referenceForward(config, params, batch, h0);
  return { loss: cache.loss, hT: finalState(cache) };
}

/**
 * Loss, all gradients by full BPTT over the batch, and the final hidden state.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param h0 initial hidden state (L, B, H); omitted = zeros
 * @returns E, ∂E/∂θ, ∂E/∂h_0 and h_T
 */
export function referenceLossAndGrads(config: ModelConfig, params: Float64Array, batch: Batch, h0?: Float64Array): ReferenceResult {
  const cache = referenceForward(config, params, batch, h0);
  const { grads, dh0 } = referenceBackward(cache);
  return { loss: cache.loss, grads, dh0, hT: finalState(cache) };
}

/**
 * The final hidden state of a cached forward pass.
 * @param cache the result of `referenceForward`
 * @returns h_T of every layer, (L, B, H)
 */
export function finalState(cache: ReferenceCache): Float64Array {
  const { hiddenSize: H, layers: L } = cache.config;
  const { T, B } = cache.batch;
  const hT = new Float64Array(L * B * H);
  for (let k = 0; k < L; k++) hT.set(cache.h[k].subarray(T * B * H, (T + 1) * B * H), k * B * H);
  return hT;
}

/** F2  f1 of one pre-activation. */
function f1(nonlinearity: Nonlinearity, hBar: number): number {
  switch (nonlinearity) {
    case "tanh":
      return Math.tanh(hBar);
    case "relu":
      return hBar > 0 ? hBar : 0;
    case "sigmoid":
      return 1 / (1 + Math.exp(-hBar));
  }
}

/** B4  f1'(h̄) written with the output h = f1(h̄), so h̄ need not be stored. */
function f1Prime(nonlinearity: Nonlinearity, h: number): number {
  switch (nonlinearity) {
    case "tanh":
      return 1 - h * h;
    case "relu":
      return h > 0 ? 1 : 0;
    case "sigmoid":
      return h * (1 - h);
  }
}

function checkInputs(config: ModelConfig, params: Float64Array, batch: Batch, h0: Float64Array | undefined): void {
  validateModelConfig(config);
  const n = paramCount(config);
  if (params.length !== n) {
    throw new ShapeError(
      `params has ${params.length} values; expected paramCount = ${n} for layers=${config.layers}, hiddenSize=${config.hiddenSize}, vocabSize=${config.vocabSize}, bias=${config.bias}`,
    );
  }
  validateBatch(batch, config.vocabSize);
  const stateSize = config.layers * batch.B * config.hiddenSize;
  if (h0 !== undefined && h0.length !== stateSize) {
    throw new ShapeError(
      `h0 has ${h0.length} values; expected L·B·H = ${config.layers}·${batch.B}·${config.hiddenSize} = ${stateSize}`,
    );
  }
}
