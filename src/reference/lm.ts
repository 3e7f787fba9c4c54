/**
 * The float64 reference of the model: forward and exact backpropagation through time in plain
 * loops, one equation per statement or small loop, each tagged with its equation
 * (docs/derivation.md). It is the oracle of every test and the code to read next to
 * docs/derivation.md, so it is written for clarity, not speed, and it shares no code with the fast
 * engine (no kernels/, no nn/, no fast layer): an oracle that reuses the code it checks proves
 * nothing. The model's three parts each bring their reference: the input's step (src/inputs/<name>/
 * reference.ts: W_ih x_t of layer 0), the cell's step (src/cells/<name>/reference.ts: one
 * recurrent step) and the head's pass over a sequence (src/heads/<name>/reference.ts: the output
 * layer and the loss); this file is what they share: stacking, dropout and the order of the loops.
 *
 * Dims: T steps, B sequences, H hidden units, L layers, G the cell's gate blocks; in_0 = the
 * input's width (V for one-hot), in_k = H (k ≥ 1). Sequences are independent, so the loops run over
 * b outside and t inside, as in the math. For sequence b at step t (t = 1..T), layer k = 0..L−1,
 * whose input x_t is the batch's input for k = 0 and the output h^(k−1)_t of the layer below for k ≥ 1:
 *
 *   W_ih x_t                      layer 0: the input's (one-hot x_t: column x_t of W_ih); above: a product
 *   cell step                     F1–F2 (simple RNN), L1–L4 (LSTM) or G1–G4 (GRU): state_t from state_{t−1}
 *   D1  x̃_t = m_t ⊙ h_t          dropout (training only), with masks given as data: what the layer above reads
 * and on top of the last layer, over the whole sequence, the head (softmax: F3 ȳ_t = W_o h_t + b_o,
 * F4 y_t = softmax(ȳ_t), F5 E = Σ_{b,t} −log y_t[k_t]).
 *
 * Backward (dz means ∂E/∂z): the head's pass over the sequence first (softmax: B1–B3, giving
 * W_oᵀ dȳ_t for every step), then t = T..1, and within a step from the top layer down:
 *   B3  dh_t from above = the head's (top layer) or W_ih^(k+1)ᵀ ∂E/∂(W_ih^(k+1) x^(k+1)_t) (below it),
 *       plus what step t+1 sent back through the state (zero past T: truncated BPTT)
 *   D2  dh_t = m_t ⊙ dx̃_t        through a dropout mask
 *   cell step backward            B4–B6, L6–L9 or G6–G10: ∂E/∂(W_ih x_t), dW_hh, db, and the state's gradient for t−1
 *   dW_ih += ∂E/∂(W_ih x_t) x_tᵀ  layer 0: the input's (one-hot x_t: added into column x_t); above: an outer product
 *
 * Layouts: matrices row-major (out, in), so W[i*in + j] is row i, column j. The forward keeps every
 * step's record per layer, h^(k) of every layer as (T+1, B, H) with h_0 in slot 0, the head's pass
 * of each sequence and the loss of each step as (T, B). state0, dState0 and stateT are (S, L, B, H):
 * every layer's h for all sequences, then (LSTM) every layer's c — PyTorch's h_0 and c_0 one after the other.
 */
import { cellOf } from "../cells/index.ts";
import type { ReferenceStep } from "../cells/types.ts";
import { ShapeError } from "../errors.ts";
import { headOf } from "../heads/index.ts";
import type { ReferenceHeadPass } from "../heads/types.ts";
import { inputOf } from "../inputs/index.ts";
import type { ModelBatch } from "../model/batch.ts";
import { validateModelBatch } from "../model/batch.ts";
import type { ModelConfig } from "../model/config.ts";
import { validateModelConfig } from "../model/config.ts";
import { gateCount, paramCount, paramViews, stateCount, stateLength } from "../model/params.ts";

/** Everything the backward pass needs from the forward pass: an explicit cache. */
export interface ReferenceCache {
  /** The model shape. */
  readonly config: ModelConfig;
  /** The flat parameters the forward pass ran with (paramSpecs layout; not copied). */
  readonly params: Float64Array;
  /** The batch the forward pass ran on. */
  readonly batch: ModelBatch;
  /** The initial state, (S, L, B, H) (zeros when none was given). */
  readonly state0: Float64Array;
  /** Per layer, the dropout multipliers m_t of its output, (T, B, H), or undefined where nothing is dropped. */
  readonly masks: readonly (Float64Array | undefined)[];
  /** x[k]: what the layer above (or the output layer, for the last) reads of layer k, (T+1, B, H): h, or m ⊙ h (D1). */
  readonly x: readonly Float64Array[];
  /** steps[k][b][t−1]: the cell's record of step t of sequence b in layer k. */
  readonly steps: readonly (readonly (readonly ReferenceStep[])[])[];
  /** h[k]: outputs of layer k, (T+1, B, H); slot 0 is h_0, slot t is h_t. */
  readonly h: readonly Float64Array[];
  /** The head's pass of each sequence b (the softmax head's keeps y_t of every step), what its backward needs. */
  readonly head: readonly ReferenceHeadPass[];
  /** Loss of each step, −log y_t[k_t], (T, B); E is their sum. Kept for gradcheck's differences. */
  readonly losses: Float64Array;
  /** E of F5, summed over t and b. */
  readonly loss: number;
}

/** Loss, gradients and state of one forward and backward pass. */
export interface ReferenceResult {
  /** E, summed over time and batch (softmax: −Σ_{t,b} log y_t[k_t], the article's E). */
  readonly loss: number;
  /** ∂E/∂θ, flat, in the paramSpecs layout. */
  readonly grads: Float64Array;
  /** ∂E/∂(state_0), (S, L, B, H). */
  readonly dState0: Float64Array;
  /** The final state, (S, L, B, H): the state0 of the next chunk in truncated BPTT. */
  readonly stateT: Float64Array;
}

/**
 * Forward pass over a batch, keeping every step's record for the backward pass.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param state0 initial state (S, L, B, H); omitted = zeros
 * @param masks per layer, dropout multipliers of its output (T, B, H), or undefined (none); default none
 * @returns the cache, whose `loss` is E
 * @throws ShapeError / DataError / ConfigError on inconsistent inputs
 */
export function referenceForward(
  config: ModelConfig, params: Float64Array, batch: ModelBatch, state0?: Float64Array, masks: readonly (Float64Array | undefined)[] = [],
): ReferenceCache {
  checkInputs(config, params, batch, state0);
  for (const m of masks) {
    if (m !== undefined && m.length !== batch.T * batch.B * config.hiddenSize) {
      throw new ShapeError(`a dropout mask has ${m.length} values; expected T·B·H = ${batch.T * batch.B * config.hiddenSize}`);
    }
  }
  const { hiddenSize: H, layers: L, nonlinearity: f } = config;
  const { T, B, inputs, targets } = batch;
  const input = inputOf(config).reference;
  const cell = cellOf(config.cell).reference;
  const head = headOf(config).reference;
  const GH = gateCount(config) * H;
  const P = paramViews(config, params);
  const s0 = state0 ?? new Float64Array(stateLength(config, B));

  const h: Float64Array[] = Array.from({ length: L }, () => new Float64Array((T + 1) * B * H));
  // what the next layer reads: h itself, or a masked copy (D1)
  const xs: Float64Array[] = Array.from({ length: L }, (_, k) => (masks[k] === undefined ? h[k] : new Float64Array((T + 1) * B * H)));
  const steps: ReferenceStep[][][] = Array.from({ length: L }, () => Array.from({ length: B }, () => []));
  const passes: ReferenceHeadPass[] = [];
  const losses = new Float64Array(T * B);
  let E = 0;

  for (let b = 0; b < B; b++) {
    // the state of every layer at t = 0, from state0
    let state = Array.from({ length: L }, (_, k) => initialState(s0, config, B, k, b));
    for (let k = 0; k < L; k++) h[k].set(state[k][0], b * H); // slot 0 = h_0
    for (let t = 1; t <= T; t++) {
      const cur = (t * B + b) * H; // offset of h_t of sequence b in a (T+1, B, H) array
      const next: Float64Array[][] = [];
      for (let k = 0; k < L; k++) {
        const { Wi } = P.layers[k];
        let xProj: Float64Array;
        if (k === 0) {
          // the input's W_ih x_t (one-hot x_t: column x_t of W_ih)
          xProj = input.project(Wi, P.input, inputs, t, b, B, GH, config);
        } else {
          xProj = new Float64Array(GH);
          const below = xs[k - 1]; // the input of layer k is h^(k−1)_t (after dropout, D1)
          for (let r = 0; r < GH; r++) {
            let s = 0;
            for (let j = 0; j < H; j++) s += Wi[r * H + j] * below[cur + j];
            xProj[r] = s;
          }
        }
        // the cell's step: state_t from W_ih x_t and state_{t−1}
        const step = cell.forward(P.layers[k], H, f, xProj, state[k]);
        steps[k][b].push(step);
        h[k].set(step.state[0], cur);
        const m = masks[k];
        // D1  x̃_t = m_t ⊙ h_t
        if (m !== undefined) for (let j = 0; j < H; j++) xs[k][cur + j] = m[cur - B * H + j] * h[k][cur + j];
        next.push(step.state.slice());
      }
      state = next;
    }
    // the head over the sequence, on x̃ of the last layer (softmax: F3–F5)
    const pass = head.forward(P.head, xs[L - 1], targets, b, T, B, config);
    passes.push(pass);
    for (let t = 1; t <= T; t++) {
      losses[(t - 1) * B + b] = pass.losses[t - 1];
      // E += e_t
      E += pass.losses[t - 1];
    }
  }
  return { config, params, batch, state0: s0, masks, x: xs, steps, h, head: passes, losses, loss: E };
}

/**
 * Backward pass: full backpropagation through time over the cached forward pass.
 * @param cache the result of `referenceForward`
 * @returns ∂E/∂θ (flat, paramSpecs layout) and ∂E/∂(state_0) (S, L, B, H)
 */
export function referenceBackward(cache: ReferenceCache): { grads: Float64Array; dState0: Float64Array } {
  return backpropagate(cache, undefined, undefined);
}

/** The error of one step's loss E_t as it travels back through time (the vanishing-gradient view). */
export interface StepGradients {
  /** t, 1..T. */
  readonly step: number;
  /** E_t = Σ_b −log y_t[k_t]: the loss of step t alone. */
  readonly loss: number;
  /**
   * Per layer, bottom first, per state name (h; and c for the LSTM): ∂E_t/∂state_k for
   * k = 0..t, (t+1, B, H), slot k = k; k = 0 is the initial state. Each is the total derivative:
   * h_k along both its paths, to the layer above at step k and to step k+1 (B3); the LSTM's c_k
   * to step k+1 and through h_k = o_k ⊙ tanh c_k (L6; the cell's totalStateGradients).
   */
  readonly layers: readonly Readonly<Record<string, Float64Array>>[];
}

/**
 * Backpropagate the loss of step t alone, E_t, through the cached forward pass, and keep
 * ∂E_t/∂state_k of every layer for k = t, t−1, …, 0: how the error of one step fades (or grows)
 * as it travels back, the product of the Jacobians ∂h_j/∂h_{j−1} (docs/derivation.md §2.11). The
 * per-step totals of ∂E/∂h̄_t the views plot otherwise are dominated by each step's own error.
 * @param cache the result of `referenceForward`
 * @param t the step whose loss is backpropagated, 1..T
 * @returns E_t and ∂E_t/∂state_k per layer and state
 * @throws ShapeError when t is not an integer in [1, T]
 */
export function referenceStepGradients(cache: ReferenceCache, t: number): StepGradients {
  const { T, B } = cache.batch;
  const { hiddenSize: H, layers: L } = cache.config;
  if (!Number.isInteger(t) || t < 1 || t > T) throw new ShapeError(`the step must be an integer in [1, ${T}]; received ${t}`);
  const cell = cellOf(cache.config.cell);
  const layers = Array.from({ length: L }, () => Object.fromEntries(cell.stateNames.map((name) => [name, new Float64Array((t + 1) * B * H)])));
  backpropagate(cache, t, (k, step, b, dState) => {
    if (step > t) return; // E_t does not reach back from after t
    // the total derivative of each state tensor (the initial state's are independent variables: as received)
    const totals = step === 0 ? dState : cell.reference.totalStateGradients(cache.steps[k][b][step - 1], dState);
    cell.stateNames.forEach((name, s) => layers[k][name].set(totals[s], (step * B + b) * H));
  });
  let loss = 0;
  for (let b = 0; b < B; b++) loss += cache.losses[(t - 1) * B + b];
  return { step: t, loss, layers };
}

/**
 * The Frobenius norms over the batch of each step's slice: ‖∂E_t/∂h_k‖ for k = 0..t.
 * @param dh one layer's (t+1, B, H) array of one state in `referenceStepGradients`
 * @returns (t+1) norms, index k
 */
export function stepSliceNorms(dh: Float64Array, B: number, H: number): Float64Array {
  const out = new Float64Array(dh.length / (B * H));
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let i = k * B * H; i < (k + 1) * B * H; i++) s += dh[i] * dh[i];
    out[k] = Math.sqrt(s);
  }
  return out;
}

/**
 * Backpropagation through time over a cached forward pass: of E, or of E_t alone.
 * @param cache the result of `referenceForward`
 * @param onlyStep backpropagate the loss of this step alone (the head's error at the other steps is
 *   left out); the parameter gradients are then not those of any loss the caller should use
 * @param observe called with ∂E/∂(state_t) of layer k and sequence b as the cell's backward step
 *   receives it (h: from above and from t+1; the other state tensors from t+1), for t = T..1, and
 *   with ∂E/∂(state_0) for t = 0
 */
function backpropagate(
  cache: ReferenceCache, onlyStep: number | undefined,
  observe: ((k: number, t: number, b: number, dState: readonly Float64Array[]) => void) | undefined,
): { grads: Float64Array; dState0: Float64Array } {
  const { config, params, batch, x: xs, steps, state0, masks } = cache;
  const { hiddenSize: H, layers: L, nonlinearity: f } = config;
  const { T, B, inputs, targets } = batch;
  const input = inputOf(config).reference;
  const cell = cellOf(config.cell).reference;
  const head = headOf(config).reference;
  const S = stateCount(config);
  const GH = gateCount(config) * H;
  const P = paramViews(config, params);
  const grads = new Float64Array(params.length);
  const G = paramViews(config, grads);
  const dState0 = new Float64Array(stateLength(config, B));

  for (let b = 0; b < B; b++) {
    // the head's backward over the sequence (softmax: B1–B2, and B3's W_oᵀ dȳ_t for every step)
    const fromHead = head.backward(P.head, G.head, xs[L - 1], cache.head[b], targets, b, T, B, config);
    // E_t alone: the head's error at the other steps left out
    if (onlyStep !== undefined) for (let t = 1; t <= T; t++) if (t !== onlyStep) fromHead.fill(0, (t - 1) * H, t * H);
    // what step t+1 sent back to each layer's state_t; zero past T (truncated BPTT)
    let carry: Float64Array[][] = Array.from({ length: L }, () => Array.from({ length: S }, () => new Float64Array(H)));
    for (let t = T; t >= 1; t--) {
      const cur = (t * B + b) * H;

      // B3  dh_t from above: the head's, into the top layer
      let fromAbove = fromHead.slice((t - 1) * H, t * H);
      // D2  through the last layer's dropout mask
      const mTop = masks[L - 1];
      if (mTop !== undefined) for (let j = 0; j < H; j++) fromAbove[j] *= mTop[cur - B * H + j];
      const nextCarry: Float64Array[][] = new Array<Float64Array[]>(L);
      for (let k = L - 1; k >= 0; k--) {
        const dW = G.layers[k];
        // B3  dh_t = (from above) + (from step t+1, through the state); the other state tensors (c) only from t+1
        const dState = carry[k].map((d, s) => (s === 0 ? d.map((v, j) => v + fromAbove[j]) : d));
        observe?.(k, t, b, dState);
        const prev = t > 1 ? steps[k][b][t - 2].state : initialState(state0, config, B, k, b);
        const { dxProj, dPrev } = cell.backward(P.layers[k], dW, H, f, steps[k][b][t - 1], prev, dState);
        nextCarry[k] = dPrev.slice();
        // dW_ih += ∂E/∂(W_ih x_t) x_tᵀ  (layer 0: the input's, for one-hot x_t column x_t only; above: the input is h^(k−1)_t)
        if (k === 0) {
          input.backward(dW.Wi, G.input, dxProj, P.layers[0].Wi, P.input, inputs, t, b, B, GH, config);
        } else {
          const below = xs[k - 1];
          for (let i = 0; i < GH; i++) {
            for (let j = 0; j < H; j++) dW.Wi[i * H + j] += dxProj[i] * below[cur + j];
          }
          // B3 (stacked)  the layer below receives W_ih^(k)ᵀ ∂E/∂(W_ih^(k) x_t) as its dh_t from above
          const WiHere = P.layers[k].Wi;
          const down = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            let s = 0;
            for (let i = 0; i < GH; i++) s += WiHere[i * H + j] * dxProj[i];
            down[j] = s;
          }
          // D2  through layer k−1's dropout mask
          const m = masks[k - 1];
          if (m !== undefined) for (let j = 0; j < H; j++) down[j] *= m[cur - B * H + j];
          fromAbove = down;
        }
      }
      carry = nextCarry;
    }
    // B6 / L9 / G10  ∂E/∂state_0 = what step 1 sent back
    for (let k = 0; k < L; k++) {
      for (let s = 0; s < S; s++) dState0.set(carry[k][s], ((s * L + k) * B + b) * H);
      observe?.(k, 0, b, carry[k]);
    }
  }
  return { grads, dState0 };
}

/**
 * Loss and final state, forward only.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param state0 initial state (S, L, B, H); omitted = zeros
 * @returns E (summed over t and b) and the final state (S, L, B, H)
 */
export function referenceLoss(
  config: ModelConfig,
  params: Float64Array,
  batch: ModelBatch,
  state0?: Float64Array,
): { loss: number; stateT: Float64Array } {
  const cache = referenceForward(config, params, batch, state0);
  return { loss: cache.loss, stateT: finalState(cache) };
}

/**
 * Loss, all gradients by full BPTT over the batch, and the final state.
 * @param config model shape
 * @param params flat float64 parameters, length paramCount(config)
 * @param batch B sequences of T steps, time-major
 * @param state0 initial state (S, L, B, H); omitted = zeros
 * @param masks per layer, dropout multipliers of its output (T, B, H), or undefined; default none
 * @returns E, ∂E/∂θ, ∂E/∂(state_0) and the final state
 */
export function referenceLossAndGrads(
  config: ModelConfig, params: Float64Array, batch: ModelBatch, state0?: Float64Array, masks: readonly (Float64Array | undefined)[] = [],
): ReferenceResult {
  const cache = referenceForward(config, params, batch, state0, masks);
  const { grads, dState0 } = referenceBackward(cache);
  return { loss: cache.loss, grads, dState0, stateT: finalState(cache) };
}

/**
 * The final state of a cached forward pass.
 * @param cache the result of `referenceForward`
 * @returns every layer's state after step T, (S, L, B, H)
 */
export function finalState(cache: ReferenceCache): Float64Array {
  const { config, batch, steps } = cache;
  const { hiddenSize: H, layers: L } = config;
  const { T, B } = batch;
  const out = new Float64Array(stateLength(config, B));
  for (let k = 0; k < L; k++) {
    for (let b = 0; b < B; b++) {
      const last = T > 0 ? steps[k][b][T - 1].state : initialState(cache.state0, config, B, k, b);
      last.forEach((v, s) => out.set(v, ((s * L + k) * B + b) * H));
    }
  }
  return out;
}

/** Layer k's initial state for sequence b, one array of H per state tensor, from a (S, L, B, H) array. */
function initialState(state0: Float64Array, config: ModelConfig, B: number, k: number, b: number): Float64Array[] {
  const { hiddenSize: H, layers: L } = config;
  return Array.from({ length: stateCount(config) }, (_, s) => state0.slice(((s * L + k) * B + b) * H, ((s * L + k) * B + b + 1) * H));
}

function checkInputs(config: ModelConfig, params: Float64Array, batch: ModelBatch, state0: Float64Array | undefined): void {
  validateModelConfig(config);
  const n = paramCount(config);
  if (params.length !== n) {
    throw new ShapeError(
      `params has ${params.length} values; expected paramCount = ${n} for ${config.cell}, layers=${config.layers}, hiddenSize=${config.hiddenSize}, vocabSize=${config.vocabSize}, bias=${config.bias}`,
    );
  }
  validateModelBatch(batch, config);
  const size = stateLength(config, batch.B);
  if (state0 !== undefined && state0.length !== size) {
    throw new ShapeError(
      `the initial state has ${state0.length} values; expected ${stateCount(config)}·L·B·H = ${stateCount(config)}·${config.layers}·${batch.B}·${config.hiddenSize} = ${size} for cell ${config.cell}`,
    );
  }
}
