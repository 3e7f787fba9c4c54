/**
 * The fast float32 engine of the language model (DESIGN §1–2): one-hot input → L stacked
 * simple RNN layers → linear output → softmax cross-entropy, over B sequences of T steps at once.
 *
 * Dims: B batch, T steps, V vocabulary, H hidden, L layers. Activations are time-major (T, B, ·):
 * row r = t·B + b. Forward order: F1 input projection for all rows (a column gather for layer 0,
 * one GEMM for layers k > 0), the recurrence (nn/rnn.ts), F3 logits for all T·B rows in one GEMM,
 * F4–F5 softmax and loss. Backward runs the same blocks in reverse; see docs/derivation.md.
 * Every buffer is allocated once per (T, B) shape in `createLmBuffers`; nothing is allocated per step.
 * The float64 oracle of this file is src/reference/rnn-lm.ts.
 */
import { defaultKernels } from "../kernels/index.ts";
import type { Kernels } from "../kernels/types.ts";
import { allocateOwned, freeOwned, ownKernelMemory, reuseOwned, type OwnedMemory, type ReusableBlock } from "../kernels/owned.ts";
import { ShapeError } from "../errors.ts";
import { linearBackward, linearForward } from "../nn/linear.ts";
import { alignFloats, createRnnBuffers, rnnBackward, rnnBufferFloats, rnnForward, type RnnBuffers } from "../nn/rnn.ts";
import type { Batch } from "./batch.ts";
import { validateBatch } from "./batch.ts";
import type { ModelConfig } from "./config.ts";
import { paramCount, paramViewsMemo, type ParamViews } from "./params.ts";

/** All activations and gradient buffers of the model for one (T, B) shape. */
export interface LmBuffers {
  readonly T: number;
  readonly B: number;
  /** One per layer, bottom first. */
  readonly layers: readonly RnnBuffers[];
  /** (T·B, V): logits ȳ, then probabilities y, then dȳ */
  readonly logits: Float32Array;
  /** (L, B, H): ∂E/∂h_0 after backward */
  readonly dh0: Float32Array;
  /** dh0 per layer (B, H) */
  readonly dh0Layers: readonly Float32Array[];
  /** (T·B): room for a copy of the batch's input ids next to the activations (kernel memory) */
  readonly inputs: Int32Array;
  /** (T·B): room for a copy of the batch's target ids */
  readonly targets: Int32Array;
  /** The one block every array above is a view of (what to give back to Kernels.free). */
  readonly memory: Float32Array;
}

/**
 * Allocate the buffers for a shape, as one block from `allocate` carved into views.
 * @param config model shape
 * @param T steps per sequence
 * @param B sequences
 * @param allocate zeroed float32 memory, e.g. `(n) => kernels.allocate(n)`; default plain arrays
 * @returns zeroed buffers
 */
export function createLmBuffers(
  config: ModelConfig, T: number, B: number,
  allocate: (length: number) => Float32Array = (n) => new Float32Array(n),
): LmBuffers {
  const { layers: L, hiddenSize: H, vocabSize: V } = config;
  // Layout: L layer blocks | logits (T·B·V) | dh0 (L·B·H) | input ids (T·B) | target ids (T·B), each 64-byte aligned.
  const layerFloats = alignFloats(rnnBufferFloats(T, B, H));
  const logitsAt = L * layerFloats;
  const dh0At = logitsAt + alignFloats(T * B * V);
  const inputsAt = dh0At + alignFloats(L * B * H);
  const targetsAt = inputsAt + alignFloats(T * B);
  const memory = allocate(targetsAt + T * B);
  const layers: RnnBuffers[] = [];
  for (let k = 0; k < L; k++) {
    layers.push(createRnnBuffers(T, B, H, memory.subarray(k * layerFloats, (k + 1) * layerFloats)));
  }
  const dh0 = memory.subarray(dh0At, dh0At + L * B * H);
  const dh0Layers: Float32Array[] = [];
  for (let k = 0; k < L; k++) dh0Layers.push(dh0.subarray(k * B * H, (k + 1) * B * H));
  const ids = (at: number): Int32Array => new Int32Array(memory.buffer, memory.byteOffset + at * 4, T * B);
  return {
    T, B, layers, logits: memory.subarray(logitsAt, logitsAt + T * B * V), dh0, dh0Layers,
    inputs: ids(inputsAt), targets: ids(targetsAt), memory,
  };
}

/**
 * Forward pass: loss E and, in the buffers, everything backward needs.
 * @param buf buffers of shape (T, B)
 * @param config model shape
 * @param p parameter views
 * @param inputs (T·B) input ids, time-major, already validated
 * @param targets (T·B) target ids, time-major, already validated
 * @param h0 initial state (L, B, H), or undefined for zeros
 * @returns E = Σ_{t,b} −log y_t[target], summed in float64
 */
export function lmForward(
  buf: LmBuffers, config: ModelConfig, p: ParamViews<Float32Array>,
  inputs: Int32Array, targets: Int32Array, h0: Float32Array | undefined, k: Kernels,
): number {
  const { T, B } = buf;
  const { layers: L, hiddenSize: H, vocabSize: V, nonlinearity: f } = config;
  const rows = T * B;
  for (let l = 0; l < L; l++) {
    const layer = buf.layers[l];
    const lp = p.layers[l];
    // h_0 of this layer: given, or zero
    if (h0 === undefined) layer.hStep[0].fill(0);
    else layer.hStep[0].set(h0.subarray(l * B * H, (l + 1) * B * H));
    if (l === 0) {
      // F1  W_i x_t for one-hot x_t: column x_t of W_i, for all rows
      k.gatherColumns(layer.hOut, lp.Wi, inputs, rows, H, V);
    } else {
      // F1  W_i^(l) h_t^(l−1) for all rows in one GEMM
      linearForward(layer.hOut, buf.layers[l - 1].hOut, lp.Wi, undefined, rows, H, H, k);
    }
    // F1–F2 the recurrence
    rnnForward(layer, lp.Wh, lp.bih, lp.bhh, f, k);
  }
  // F3  ȳ_t = W_o h_t + b_o for all rows
  linearForward(buf.logits, buf.layers[L - 1].hOut, p.Wo, p.bo, rows, H, V, k);
  // F4–F5  y_t = softmax(ȳ_t), E = Σ −log y_t[k_t]
  return k.softmaxCrossEntropy(buf.logits, targets, rows, V);
}

/**
 * Backward pass (full BPTT over the chunk). Accumulates scale·∂E/∂θ into the gradient views
 * (zero them first for a fresh gradient) and writes scale·∂E/∂h_0 into buf.dh0.
 * @param buf buffers filled by lmForward
 * @param config model shape
 * @param p parameter views
 * @param g gradient views, accumulated into
 * @param inputs the input ids given to lmForward
 * @param targets the target ids given to lmForward
 * @param scale 1 for ∂E/∂θ; 1/(T·B) for the gradient of the mean loss
 */
export function lmBackward(
  buf: LmBuffers, config: ModelConfig, p: ParamViews<Float32Array>, g: ParamViews<Float32Array>,
  inputs: Int32Array, targets: Int32Array, scale: number, k: Kernels,
): void {
  const { T, B } = buf;
  const { layers: L, hiddenSize: H, vocabSize: V, nonlinearity: f } = config;
  const rows = T * B;
  // B1  dȳ_t = y_t − onehot(k_t)
  k.softmaxCrossEntropyBackward(buf.logits, targets, rows, V, scale);
  // B2  dW_o += Σ dȳ_t h_tᵀ, db_o += Σ dȳ_t;  B3 (first term)  dh_t = W_oᵀ dȳ_t into the top layer
  const top = buf.layers[L - 1];
  linearBackward(top.dhs, g.Wo, g.bo, buf.logits, top.hOut, p.Wo, rows, H, V, k);
  for (let l = L - 1; l >= 0; l--) {
    const layer = buf.layers[l];
    const lp = p.layers[l];
    const lg = g.layers[l];
    // B3–B6 through time: dhs becomes dh̄_t; dW_h, db_h, dh_0
    rnnBackward(layer, lp.Wh, lg.Wh, lg.bih, lg.bhh, buf.dh0Layers[l], f, k);
    if (l === 0) {
      // B5  dW_i += Σ dh̄_t x_tᵀ: add dh̄_t into column x_t
      k.scatterAddColumns(lg.Wi, layer.dhs, inputs, rows, H, V);
    } else {
      // B5  dW_i^(l) += Σ dh̄_t h_t^(l−1)ᵀ;  stacked B3: layer l−1 receives W_i^(l)ᵀ dh̄_t^(l) as its dh_t
      const below = buf.layers[l - 1];
      linearBackward(below.dhs, lg.Wi, undefined, layer.dhs, below.hOut, lp.Wi, rows, H, H, k);
    }
  }
}

/**
 * What training needs of an engine: forward and BPTT over a batch, the carried state, cleanup.
 * LmEngine (one thread) and ThreadedLmEngine (src/model/threaded.ts, several) implement it.
 */
export interface TrainingEngine {
  /** Model shape. */
  readonly config: ModelConfig;
  /**
   * Forward only.
   * @param params flat parameters (paramSpecs layout)
   * @param batch time-major ids
   * @param h0 initial state (L, B, H); default zeros
   * @returns E, summed over steps and sequences
   */
  loss(params: Float32Array, batch: Batch, h0?: Float32Array): number;
  /**
   * Forward and full BPTT. Overwrites `grads` with scale·∂E/∂θ.
   * @param params flat parameters
   * @param grads flat gradients, same length, overwritten
   * @param batch time-major ids
   * @param h0 initial state (L, B, H); default zeros
   * @param scale gradient scale (1/(T·B) for the mean loss); default 1
   * @returns E, summed over steps and sequences (unscaled)
   */
  lossAndGrads(params: Float32Array, grads: Float32Array, batch: Batch, h0?: Float32Array, scale?: number): number;
  /** ∂E/∂h_0 (L, B, H) of the last lossAndGrads call, valid until the next call. */
  readonly dh0: Float32Array;
  /**
   * The final hidden state h_T of the last forward pass, the h_0 of the next chunk in truncated BPTT.
   * @param out (L, B, H) destination; default a new array
   * @returns out
   */
  finalState(out?: Float32Array): Float32Array;
  /**
   * Give back the engine's kernel memory (and end its threads, if it has any).
   * @returns nothing, or a promise resolved when the engine's threads have exited
   */
  dispose(): void | Promise<void>;
}

/**
 * A reusable engine: keeps buffers for the last shape and parameter views for the last arrays,
 * so that repeated steps allocate nothing.
 *
 * Memory: activations live in kernel memory (`Kernels.allocate`, for the WebAssembly kernels the
 * module's memory), sized by the largest (T, B) so far: a smaller shape (an evaluation's last
 * chunk) reuses that memory. Parameters and gradients are used in place when they already live
 * there (allocate them with `engine.allocateParams()`);
 * otherwise each call copies the parameters into an engine-owned copy and the gradients back out,
 * once per call (O(P), against the O(T·B·P) of the arithmetic), so that no kernel call copies.
 * `dispose()` gives that memory back at once; an engine that is garbage-collected without it
 * gives it back eventually (FinalizationRegistry), so short-lived engines do not leak.
 */
export class LmEngine implements TrainingEngine {
  readonly config: ModelConfig;
  readonly kernels: Kernels;
  private buffers: LmBuffers | undefined;
  // The buffers' memory: sized by the largest (T, B) so far, smaller shapes reuse it (reuseOwned).
  private readonly bufferMemory: ReusableBlock = {};
  private paramsCopy: Float32Array | undefined;
  private gradsCopy: Float32Array | undefined;
  private readonly views: (flat: Float32Array) => ParamViews<Float32Array>;
  // Every block this engine holds from kernels.allocate; freed by dispose() or after garbage collection.
  private readonly owned: OwnedMemory;

  /**
   * @param config model shape
   * @param kernels arithmetic to use; default: the fastest available
   */
  constructor(config: ModelConfig, kernels: Kernels = defaultKernels()) {
    this.config = config;
    this.kernels = kernels;
    this.views = paramViewsMemo(config);
    this.owned = ownKernelMemory(this, kernels);
  }

  /**
   * Forward only.
   * @param params flat parameters (paramSpecs layout)
   * @param batch time-major ids
   * @param h0 initial state (L, B, H); default zeros
   * @returns E, summed over steps and sequences
   */
  loss(params: Float32Array, batch: Batch, h0?: Float32Array): number {
    const buf = this.prepare(params, batch, h0);
    const p = this.views(this.resident(params));
    return lmForward(buf, this.config, p, this.ids(buf.inputs, batch.inputs), this.ids(buf.targets, batch.targets), h0, this.kernels);
  }

  /**
   * Forward and full BPTT. Overwrites `grads` with scale·∂E/∂θ.
   * @param params flat parameters
   * @param grads flat gradients, same length, overwritten
   * @param batch time-major ids
   * @param h0 initial state (L, B, H); default zeros
   * @param scale gradient scale (1/(T·B) for the mean loss); default 1
   * @returns E, summed over steps and sequences (unscaled)
   */
  lossAndGrads(params: Float32Array, grads: Float32Array, batch: Batch, h0?: Float32Array, scale = 1): number {
    if (grads.length !== params.length) {
      throw new ShapeError(`grads has ${grads.length} values; expected ${params.length} like the parameters`);
    }
    const buf = this.prepare(params, batch, h0);
    const k = this.kernels;
    const p = this.views(this.resident(params));
    const inputs = this.ids(buf.inputs, batch.inputs);
    const targets = this.ids(buf.targets, batch.targets);
    const loss = lmForward(buf, this.config, p, inputs, targets, h0, k);
    const g = k.isResident(grads) ? grads : (this.gradsCopy ??= this.allocate(grads.length));
    g.fill(0);
    lmBackward(buf, this.config, p, this.views(g), inputs, targets, scale, k);
    if (g !== grads) grads.set(g);
    return loss;
  }

  /**
   * A zeroed array of paramCount(config) floats in the kernels' memory: parameters or gradients
   * kept there are used in place by every call, with no copy. The caller owns it; give it back
   * with `engine.kernels.free(array)` (WebAssembly memory is not garbage-collected).
   * @returns the array (a plain Float32Array with the portable kernels)
   */
  allocateParams(): Float32Array {
    return this.kernels.allocate(paramCount(this.config));
  }

  /**
   * Give the engine's kernel memory back (buffers, parameter and gradient copies). The engine
   * stays usable: the next call allocates again.
   */
  dispose(): void {
    freeOwned(this.owned);
    this.buffers = undefined;
    this.bufferMemory.block = undefined;
    this.paramsCopy = undefined;
    this.gradsCopy = undefined;
  }

  /**
   * ∂E/∂h_0 (L, B, H) of the last lossAndGrads call: a view into the engine's buffers, valid until
   * the next call and while the engine is referenced (its memory is freed when it is collected).
   */
  get dh0(): Float32Array {
    return this.buffers?.dh0 ?? new Float32Array(0);
  }

  /**
   * The final hidden state h_T of the last forward pass, the h_0 of the next chunk in truncated BPTT.
   * @param out (L, B, H) destination; default a new array
   * @returns out
   */
  finalState(out?: Float32Array): Float32Array {
    const buf = this.buffers;
    if (buf === undefined) throw new ShapeError("finalState() needs a forward pass first");
    const n = buf.B * this.config.hiddenSize;
    const dst = out ?? new Float32Array(this.config.layers * n);
    buf.layers.forEach((layer, l) => dst.set(layer.hStep[buf.T], l * n));
    return dst;
  }

  /**
   * The buffers of the last forward (and backward) pass, for diagnostics: per layer `hs` (T+1, B, H)
   * with h_0 in slot 0 and, after lossAndGrads, `dhs` (T, B, H) holding dh̄_t = ∂E/∂h̄_t.
   * Views into kernel memory (with the WebAssembly kernels, into the module's memory): read them
   * during the call that needs them, and copy what must outlive the next engine call.
   * @returns the buffers, or undefined before the first call
   */
  get activations(): LmBuffers | undefined {
    return this.buffers;
  }

  /**
   * Probabilities y (T·B, V) of the last forward pass (before backward overwrites them).
   * @returns a view into the engine's buffers, valid until the next call and while the engine is referenced
   */
  get probabilities(): Float32Array {
    return this.buffers?.logits ?? new Float32Array(0);
  }

  private prepare(params: Float32Array, batch: Batch, h0: Float32Array | undefined): LmBuffers {
    const { config } = this;
    if (params.length !== paramCount(config)) {
      throw new ShapeError(`params has ${params.length} values; expected ${paramCount(config)} for this model config`);
    }
    validateBatch(batch, config.vocabSize);
    const expectedH0 = config.layers * batch.B * config.hiddenSize;
    if (h0 !== undefined && h0.length !== expectedH0) {
      throw new ShapeError(`h0 has ${h0.length} values; expected L·B·H = ${expectedH0}`);
    }
    if (this.buffers === undefined || this.buffers.T !== batch.T || this.buffers.B !== batch.B) {
      this.buffers = undefined; // if allocate throws, no stale buffers stay behind
      this.buffers = createLmBuffers(config, batch.T, batch.B, (n) => reuseOwned(this.owned, this.bufferMemory, n));
    }
    return this.buffers;
  }

  /** The parameters where the kernels use them in place: `params` itself, or the engine's copy of it. */
  private resident(params: Float32Array): Float32Array {
    const k = this.kernels;
    if (k.isResident(params)) return params;
    const copy = (this.paramsCopy ??= this.allocate(params.length));
    copy.set(params);
    return copy;
  }

  private allocate(length: number): Float32Array {
    return allocateOwned(this.owned, length);
  }

  /** Token ids where the kernels use them in place: `ids` itself, or a copy in the buffers. */
  private ids(slot: Int32Array, ids: Int32Array): Int32Array {
    if (this.kernels.isResident(ids)) return ids;
    slot.set(ids);
    return slot;
  }

}
