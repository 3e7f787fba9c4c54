/**
 * The fast float32 engine of the model: input (the config's input: src/inputs/) → L stacked
 * recurrent layers (the config's cell: src/cells/) → head (the config's head: src/heads/; the
 * softmax cross-entropy of a language model), over B sequences of T steps at once. This file
 * knows no input, cell or head: it asks each for its fast layer.
 *
 * Dims: B batch, T steps, H hidden, L layers, G the cell's gate blocks. Activations are
 * time-major (T, B, ·): row r = t·B + b. Forward order: the input projection W_ih x_t for all rows
 * into the cell's `xProj` (the input's for layer 0: a column gather for one-hot input; one GEMM for
 * layers k > 0), the cell's recurrence, dropout between layers when training asks for it (D1,
 * src/nn/dropout.ts), then the head over all T·B rows (F3 logits in one GEMM, F4–F5 softmax and
 * loss). Backward runs the same blocks in reverse (docs/derivation.md). Every buffer is allocated
 * once per (T, B) shape in `createLmBuffers`; nothing is allocated per step.
 * The float64 oracle of this file is src/reference/lm.ts.
 */
import { alignFloats } from "../cells/buffers.ts";
import { cellOf } from "../cells/index.ts";
import type { CellBufferOptions, CellBuffers, CellDiagnostics, CellLayer } from "../cells/types.ts";
import { defaultKernels } from "../kernels/index.ts";
import type { Kernels } from "../kernels/types.ts";
import { allocateOwned, freeOwned, ownKernelMemory, reuseOwned, type OwnedMemory, type ReusableBlock } from "../kernels/owned.ts";
import { ShapeError } from "../errors.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import { applyDropout, dropRate, type Dropout } from "../nn/dropout.ts";
import { linearBackward, linearForward } from "../nn/linear.ts";
import { dataLength, validateModelBatch, type BatchData, type DataLayout, type ModelBatch } from "./batch.ts";
import type { ModelConfig } from "./config.ts";
import { gateCount, paramCount, paramViewsMemo, stateCount, stateLength, type ParamViews } from "./params.ts";

/** All activations and gradient buffers of the model for one (T, B) shape. */
export interface LmBuffers {
  readonly T: number;
  readonly B: number;
  /** One per layer, bottom first: the cell's buffers. */
  readonly layers: readonly CellBuffers[];
  /** Per layer, (T·B, H): its output after dropout (D1), what the layer above reads; undefined where nothing is dropped. */
  readonly dropped: readonly (Float32Array | undefined)[];
  /** The head's activations (HeadLayer.bufferFloats): the softmax head's (T·B, V) logits ȳ, then probabilities y, then dȳ */
  readonly head: Float32Array;
  /** (S, L, B, H): ∂E/∂(h_0, c_0) after backward (layout of `stateLength`) */
  readonly dState0: Float32Array;
  /** dState0Layers[l][s]: the (B, H) view of layer l's state s in dState0 */
  readonly dState0Layers: readonly (readonly Float32Array[])[];
  /** Room for a copy of the batch's inputs next to the activations (kernel memory), as the input lays them out: (T·B) ids for one-hot */
  readonly inputs: BatchData;
  /** Room for a copy of the batch's targets, as the head lays them out: (T·B) ids for the softmax head */
  readonly targets: BatchData;
  /** The one block every array above is a view of (what to give back to Kernels.free). */
  readonly memory: Float32Array;
}

/** What the model's buffers hold besides the cells' own. */
export interface LmBufferOptions extends CellBufferOptions {
  /** Per layer, whether its output is dropped out (room for the dropped copy). Default none. */
  readonly dropped?: readonly boolean[];
}

/**
 * Allocate the buffers for a shape, as one block from `allocate` carved into views.
 * @param config model shape
 * @param T steps per sequence
 * @param B sequences
 * @param allocate zeroed float32 memory, e.g. `(n) => kernels.allocate(n)`; default plain arrays
 * @param options what the cells' buffers keep (activations through backward, for diagnostics) and which outputs are dropped out
 * @returns zeroed buffers
 */
export function createLmBuffers(
  config: ModelConfig, T: number, B: number,
  allocate: (length: number) => Float32Array = (n) => new Float32Array(n), options: LmBufferOptions = {},
): LmBuffers {
  const { layers: L, hiddenSize: H } = config;
  const layer = cellOf(config.cell).layer;
  const S = stateCount(config);
  const inputLayout = inputOf(config).layout(config);
  const targetLayout = headOf(config).layout(config);
  const headFloats = headOf(config).layer.bufferFloats(T, B, config);
  // Layout: L layer blocks | dropped outputs (T·B·H each) | the head's block (softmax: T·B·V logits) | dState0 (S·L·B·H) |
  // inputs (one-hot: T·B ids) | targets (softmax: T·B ids), each 64-byte aligned.
  const layerFloats = alignFloats(layer.bufferFloats(T, B, H, options));
  const droppedCount = (options.dropped ?? []).filter(Boolean).length;
  const droppedAt = L * layerFloats;
  const headAt = droppedAt + droppedCount * alignFloats(T * B * H);
  const dState0At = headAt + alignFloats(headFloats);
  const inputsAt = dState0At + alignFloats(stateLength(config, B));
  const targetsAt = inputsAt + alignFloats(dataLength(inputLayout, T, B));
  const memory = allocate(targetsAt + dataLength(targetLayout, T, B));
  const layers: CellBuffers[] = [];
  for (let k = 0; k < L; k++) {
    layers.push(layer.createBuffers(T, B, H, memory.subarray(k * layerFloats, (k + 1) * layerFloats), options));
  }
  const dState0 = memory.subarray(dState0At, dState0At + stateLength(config, B));
  const dState0Layers = Array.from({ length: L }, (_, l) =>
    Array.from({ length: S }, (_, s) => dState0.subarray(((s * L + l) * B) * H, ((s * L + l) * B + B) * H)));
  // a part's room, 32-bit values either way: token ids as an Int32Array over the block's bytes, real values as a view of it
  const data = (at: number, layout: DataLayout): BatchData => layout.type === "int32"
    ? new Int32Array(memory.buffer, memory.byteOffset + at * 4, dataLength(layout, T, B))
    : memory.subarray(at, at + dataLength(layout, T, B));
  let next = droppedAt;
  const dropped = Array.from({ length: L }, (_, l) => {
    if (options.dropped?.[l] !== true) return undefined;
    const view = memory.subarray(next, next + T * B * H);
    next += alignFloats(T * B * H);
    return view;
  });
  return {
    T, B, layers, dropped, head: memory.subarray(headAt, headAt + headFloats), dState0, dState0Layers,
    inputs: data(inputsAt, inputLayout), targets: data(targetsAt, targetLayout), memory,
  };
}

/**
 * Whether buffers made earlier serve a pass of T steps × B streams with room for `dropped`: the
 * same shape, room enough, and still on the block `slot` holds now (its first floats, as
 * reuseOwned hands them out), so that they are the very views createLmBuffers would make again.
 * Their contents are whatever the last pass on that memory left, as with new views of it.
 * @param b buffers from createLmBuffers over reuseOwned(…, slot, …)
 * @param T steps
 * @param B streams
 * @param dropped the layers whose outputs the pass drops out
 * @param slot the block the buffers were carved from
 * @returns whether to use them
 */
export function buffersServe(b: LmBuffers, T: number, B: number, dropped: readonly boolean[], slot: ReusableBlock): boolean {
  const block = slot.block;
  return b.T === T && b.B === B && dropped.every((d, l) => !d || b.dropped[l] !== undefined) &&
    block !== undefined && b.memory.buffer === block.buffer && b.memory.byteOffset === block.byteOffset && b.memory.length <= block.length;
}

/** Where a batch's streams sit in a larger batch (the threaded engine's slices; dropout masks are keyed by it). */
export interface SlicePlace {
  /** First stream of this batch in the full batch. */
  readonly b0: number;
  /** Streams in the full batch. */
  readonly B: number;
}

/**
 * Forward pass: loss E and, in the buffers, everything backward needs.
 * @param buf buffers of shape (T, B)
 * @param config model shape
 * @param p parameter views
 * @param inputs the batch's inputs as the model's input reads them (one-hot: (T·B) ids, time-major), already validated
 * @param targets the batch's targets as the model's head reads them (softmax: (T·B) ids), already validated
 * @param state0 initial state (S, L, B, H) (`stateLength`), or undefined for zeros
 * @param dropout dropout of this training pass (buffers made with room for it), or undefined
 * @param place where these streams sit in the full batch; default the whole batch
 * @returns the head's loss E (softmax: Σ_{t,b} −log y_t[target]), summed in float64
 */
export function lmForward(
  buf: LmBuffers, config: ModelConfig, p: ParamViews<Float32Array>,
  inputs: BatchData, targets: BatchData, state0: Float32Array | undefined, k: Kernels,
  dropout?: Dropout, place: SlicePlace = { b0: 0, B: buf.B },
): number {
  const { T, B } = buf;
  const { layers: L, hiddenSize: H, nonlinearity: f } = config;
  const layer: CellLayer = cellOf(config.cell).layer;
  const GH = gateCount(config) * H;
  const rows = T * B;
  for (let l = 0; l < L; l++) {
    const lb = buf.layers[l];
    const lp = p.layers[l];
    // the initial state of this layer: given, or zero
    lb.state0.forEach((s, i) => {
      if (state0 === undefined) s.fill(0);
      else s.set(state0.subarray(((i * L + l) * B) * H, ((i * L + l) * B + B) * H));
    });
    if (l === 0) {
      // W_ih x_t of the model's input (F1, L1, G1), for all rows: for one-hot x_t, column x_t of W_ih
      inputOf(config).layer.forward(lb.xProj, lp.Wi, p.input, inputs, rows, GH, config, k);
    } else {
      // W_ih^(l) h_t^(l−1) for all rows in one GEMM (of the dropped-out outputs, D1, when training drops them)
      linearForward(lb.xProj, output(buf, l - 1, dropout), lp.Wi, undefined, rows, H, GH, k);
    }
    // the cell's recurrence (F1–F2, L1–L4, G1–G4)
    layer.forward(lb, lp, f, k);
    // D1  x̃_t = m_t ⊙ h_t, what the layer above (or the output layer) reads
    const rate = dropRate(dropout, l, L);
    if (rate > 0 && dropout !== undefined) applyDropout(needDropped(buf, l), lb.hOut, dropout, l, rate, T, B, H, place.b0, place.B);
  }
  // the head on the top layer's outputs, for all rows (softmax: F3 ȳ_t = W_o h_t + b_o, F4–F5 y_t = softmax(ȳ_t), E = Σ −log y_t[k_t])
  return headOf(config).layer.forward(buf.head, output(buf, L - 1, dropout), p.head, targets, T, B, config, k);
}

/**
 * Backward pass (full BPTT over the chunk). Accumulates scale·∂E/∂θ into the gradient views
 * (zero them first for a fresh gradient) and writes scale·∂E/∂(state_0) into buf.dState0.
 * @param buf buffers filled by lmForward
 * @param config model shape
 * @param p parameter views
 * @param g gradient views, accumulated into
 * @param inputs the input ids given to lmForward
 * @param targets the target ids given to lmForward
 * @param scale 1 for ∂E/∂θ; 1/(T·B) for the gradient of the mean loss
 * @param dropout the dropout given to lmForward
 * @param place where these streams sit in the full batch, as given to lmForward
 */
export function lmBackward(
  buf: LmBuffers, config: ModelConfig, p: ParamViews<Float32Array>, g: ParamViews<Float32Array>,
  inputs: BatchData, targets: BatchData, scale: number, k: Kernels,
  dropout?: Dropout, place: SlicePlace = { b0: 0, B: buf.B },
): void {
  const { T, B } = buf;
  const { layers: L, hiddenSize: H, nonlinearity: f } = config;
  const layer: CellLayer = cellOf(config.cell).layer;
  const GH = gateCount(config) * H;
  const rows = T * B;
  // the head's backward: the top layer's dh_t from the head (softmax: B1 dȳ_t = y_t − onehot(k_t); B2 dW_o, db_o;
  // B3 / L5 / G5 (first term) dh_t = W_oᵀ dȳ_t)
  const top = buf.layers[L - 1];
  headOf(config).layer.backward(top.dhOut, g.head, buf.head, output(buf, L - 1, dropout), p.head, targets, scale, T, B, config, k);
  // D2  the gradient into a dropped-out output passes its mask
  const throughDropout = (l: number): void => {
    const rate = dropRate(dropout, l, L);
    if (rate > 0 && dropout !== undefined) applyDropout(buf.layers[l].dhOut, buf.layers[l].dhOut, dropout, l, rate, T, B, H, place.b0, place.B);
  };
  throughDropout(L - 1);
  for (let l = L - 1; l >= 0; l--) {
    const lb = buf.layers[l];
    const lp = p.layers[l];
    const lg = g.layers[l];
    // through time (B3–B6, L5–L9, G5–G10): dxProj = ∂E/∂(W_ih x_t); dW_hh, db; ∂E/∂state_0
    layer.backward(lb, lp, lg, buf.dState0Layers[l], f, k);
    if (l === 0) {
      // dW_ih += Σ ∂E/∂(W_ih x_t) x_tᵀ (B5, L8, G9), by the model's input: for one-hot x_t, added into column x_t
      inputOf(config).layer.backward(lg.Wi, g.input, lb.dxProj, lp.Wi, p.input, inputs, rows, GH, config, k);
    } else {
      // dW_ih^(l) += Σ ∂E/∂(W_ih x_t) x̃_t^(l−1)ᵀ;  stacked: layer l−1 receives W_ih^(l)ᵀ ∂E/∂(W_ih x_t) as its dh_t
      const below = buf.layers[l - 1];
      linearBackward(below.dhOut, lg.Wi, undefined, lb.dxProj, output(buf, l - 1, dropout), lp.Wi, rows, H, GH, k);
      throughDropout(l - 1);
    }
  }
}

/** Layer l's output as the next layer reads it: dropped out (D1) when this pass drops it, else h_t. */
function output(buf: LmBuffers, l: number, dropout: Dropout | undefined): Float32Array {
  return dropRate(dropout, l, buf.layers.length) > 0 ? needDropped(buf, l) : buf.layers[l].hOut;
}

function needDropped(buf: LmBuffers, l: number): Float32Array {
  const d = buf.dropped[l];
  if (d === undefined) throw new ShapeError(`internal: the buffers have no room for layer ${l}'s dropout (made without it)`);
  return d;
}

/**
 * What training needs of an engine: forward and BPTT over a batch, the carried state, cleanup.
 * LmEngine (one thread) and ThreadedLmEngine (src/model/threaded.ts, several) implement it; the
 * trainer, evaluation and the playground know engines only through this interface.
 *
 * The state is the cell's (h, or h and c for the LSTM), laid out (S, L, B, H) as `stateLength`
 * says: every layer's h_0 for all sequences, then every layer's c_0.
 */
export interface TrainingEngine {
  /** Model shape. */
  readonly config: ModelConfig;
  /** Threads a step runs on (1 for LmEngine). */
  readonly threads: number;
  /**
   * Forward only.
   * @param params flat parameters (paramSpecs layout)
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @returns E, summed over steps and sequences
   */
  loss(params: Float32Array, batch: ModelBatch, state0?: Float32Array): number;
  /**
   * Forward and full BPTT. Overwrites `grads` with scale·∂E/∂θ.
   * @param params flat parameters
   * @param grads flat gradients, same length, overwritten
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @param scale gradient scale (1/(T·B) for the mean loss); default 1
   * @param dropout training's dropout for this pass (src/nn/dropout.ts); default none
   * @returns E, summed over steps and sequences (unscaled)
   */
  lossAndGrads(params: Float32Array, grads: Float32Array, batch: ModelBatch, state0?: Float32Array, scale?: number, dropout?: Dropout): number;
  /** ∂E/∂(state_0) (S, L, B, H) of the last lossAndGrads call, valid until the next call. */
  readonly dState0: Float32Array;
  /**
   * The final state of the last forward pass, the initial state of the next chunk in truncated BPTT.
   * @param out (S, L, B, H) destination; default a new array
   * @returns out
   */
  finalState(out?: Float32Array): Float32Array;
  /**
   * The cell's diagnostics of the last lossAndGrads call, per layer (bottom first), for an engine
   * made to keep them (LmEngine with `diagnostics: true`); undefined otherwise.
   */
  diagnostics(): readonly CellDiagnostics[] | undefined;
  /**
   * Give back the engine's kernel memory (and end its threads, if it has any).
   * @returns nothing, or a promise resolved when the engine's threads have exited
   */
  dispose(): void | Promise<void>;
}

/** Options of `LmEngine`. */
export interface LmEngineOptions {
  /**
   * Keep every activation through backward, so that `diagnostics()` and `stateOverTime()` can
   * read them (the gated cells otherwise let backward overwrite their gates in place). Costs the
   * memory of one more copy of the gates. Default false.
   */
  readonly diagnostics?: boolean;
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
  readonly threads = 1;
  private buffers: LmBuffers | undefined;
  // The buffers of the shape before (on the same memory, which one pass at a time uses).
  private spareBuffers: LmBuffers | undefined;
  // The buffers' memory: sized by the largest (T, B) so far, smaller shapes reuse it (reuseOwned).
  private readonly bufferMemory: ReusableBlock = {};
  private paramsCopy: Float32Array | undefined;
  private gradsCopy: Float32Array | undefined;
  private readonly views: (flat: Float32Array) => ParamViews<Float32Array>;
  private readonly bufferOptions: CellBufferOptions;
  // Every block this engine holds from kernels.allocate; freed by dispose() or after garbage collection.
  private readonly owned: OwnedMemory;

  /**
   * @param config model shape
   * @param kernels arithmetic to use; default: the fastest available
   * @param options whether to keep activations for diagnostics
   */
  constructor(config: ModelConfig, kernels: Kernels = defaultKernels(), options: LmEngineOptions = {}) {
    this.config = config;
    this.kernels = kernels;
    this.views = paramViewsMemo(config);
    this.bufferOptions = { keepActivations: options.diagnostics === true };
    this.owned = ownKernelMemory(this, kernels);
  }

  /**
   * Forward only.
   * @param params flat parameters (paramSpecs layout)
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @returns E, summed over steps and sequences
   */
  loss(params: Float32Array, batch: ModelBatch, state0?: Float32Array): number {
    const buf = this.prepare(params, batch, state0, undefined);
    const p = this.views(this.resident(params));
    return lmForward(buf, this.config, p, this.data(buf.inputs, batch.inputs), this.data(buf.targets, batch.targets), state0, this.kernels);
  }

  /**
   * Forward and full BPTT. Overwrites `grads` with scale·∂E/∂θ.
   * @param params flat parameters
   * @param grads flat gradients, same length, overwritten
   * @param batch time-major inputs and targets (token ids for a language model)
   * @param state0 initial state (S, L, B, H); default zeros
   * @param scale gradient scale (1/(T·B) for the mean loss); default 1
   * @param dropout training's dropout for this pass (src/nn/dropout.ts); default none
   * @returns E, summed over steps and sequences (unscaled)
   */
  lossAndGrads(params: Float32Array, grads: Float32Array, batch: ModelBatch, state0?: Float32Array, scale = 1, dropout?: Dropout): number {
    if (grads.length !== params.length) {
      throw new ShapeError(`grads has ${grads.length} values; expected ${params.length} like the parameters`);
    }
    const buf = this.prepare(params, batch, state0, dropout);
    const k = this.kernels;
    const p = this.views(this.resident(params));
    const inputs = this.data(buf.inputs, batch.inputs);
    const targets = this.data(buf.targets, batch.targets);
    const loss = lmForward(buf, this.config, p, inputs, targets, state0, k, dropout);
    const g = k.isResident(grads) ? grads : (this.gradsCopy ??= this.allocate(grads.length));
    g.fill(0);
    lmBackward(buf, this.config, p, this.views(g), inputs, targets, scale, k, dropout);
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
   * Parameters for many passes that leave them unchanged (sampling, evaluation): `params` itself
   * where the kernels use it in place, else a copy in this engine's kernel memory, made once and
   * freed by `dispose`. A plain array given to `loss` is copied at every call — for a model loaded
   * from a checkpoint at V = 5,000, H = 256, 27 MB per sampled character (bench/README.md).
   * @param params the parameters (not changed while the result is in use)
   * @returns an array the kernels read in place
   */
  residentParams(params: Float32Array): Float32Array {
    if (this.kernels.isResident(params)) return params;
    const copy = this.allocate(params.length);
    copy.set(params);
    return copy;
  }

  /**
   * Give the engine's kernel memory back (buffers, parameter and gradient copies). The engine
   * stays usable: the next call allocates again.
   */
  dispose(): void {
    freeOwned(this.owned);
    this.buffers = undefined;
    this.spareBuffers = undefined;
    this.bufferMemory.block = undefined;
    this.paramsCopy = undefined;
    this.gradsCopy = undefined;
  }

  /**
   * ∂E/∂(state_0) (S, L, B, H) of the last lossAndGrads call: a view into the engine's buffers, valid
   * until the next call and while the engine is referenced (its memory is freed when it is collected).
   */
  get dState0(): Float32Array {
    return this.buffers?.dState0 ?? new Float32Array(0);
  }

  /**
   * The final state of the last forward pass, the initial state of the next chunk in truncated BPTT.
   * @param out (S, L, B, H) destination; default a new array
   * @returns out
   */
  finalState(out?: Float32Array): Float32Array {
    const buf = this.buffers;
    if (buf === undefined) throw new ShapeError("finalState() needs a forward pass first");
    const { layers: L, hiddenSize: H } = this.config;
    const dst = out ?? new Float32Array(stateLength(this.config, buf.B));
    buf.layers.forEach((layer, l) => layer.stateT.forEach((s, i) => dst.set(s, (i * L + l) * buf.B * H)));
    return dst;
  }

  /**
   * The cell's diagnostics of the last lossAndGrads call, per layer, bottom first.
   * @returns them, or undefined unless the engine was made with `diagnostics: true` and has run
   */
  diagnostics(): readonly CellDiagnostics[] | undefined {
    const buf = this.buffers;
    if (buf === undefined || this.bufferOptions.keepActivations !== true) return undefined;
    const view = cellOf(this.config.cell).view;
    return buf.layers.map((layer) => view.diagnostics(layer, this.config.nonlinearity));
  }

  /**
   * One state tensor of one layer over the steps of the last forward pass, for one sequence
   * (the playground's hidden-state-over-text view).
   * @param layer the layer, 0 = bottom
   * @param state index into the cell's stateNames (0 = h; 1 = c for the LSTM)
   * @param b the sequence
   * @returns (T·H) values, step t's H values at (t−1)·H
   * @throws ShapeError before a forward pass, or for an index out of range
   */
  stateOverTime(layer: number, state: number, b = 0): Float32Array {
    const buf = this.buffers;
    const cell = cellOf(this.config.cell);
    if (buf === undefined) throw new ShapeError("stateOverTime() needs a forward pass first");
    const lb = buf.layers[layer];
    if (lb === undefined) throw new ShapeError(`layer must be an integer in [0, ${this.config.layers}); received ${layer}`);
    if (!(Number.isInteger(state) && state >= 0 && state < cell.stateNames.length)) {
      throw new ShapeError(`state must be an integer in [0, ${cell.stateNames.length}) for cell ${cell.name}; received ${state}`);
    }
    return cell.view.stateOverTime(lb, state, b);
  }

  /**
   * The buffers of the last forward (and backward) pass: per layer the cell's buffers (see its
   * layer.ts for what each array holds after forward and after backward). Views into kernel memory
   * (with the WebAssembly kernels, into the module's memory): read them during the call that needs
   * them, and copy what must outlive the next engine call. For tests and tools; the playground
   * reads `diagnostics()` and `stateOverTime()`, which ask the cell.
   * @returns the buffers, or undefined before the first call
   */
  get activations(): LmBuffers | undefined {
    return this.buffers;
  }

  /**
   * The softmax head's probabilities y (T·B, V) of the last forward pass (before backward
   * overwrites them): the head's activation block (LmBuffers.head).
   * @returns a view into the engine's buffers, valid until the next call and while the engine is referenced
   */
  get probabilities(): Float32Array {
    return this.buffers?.head ?? new Float32Array(0);
  }

  private prepare(params: Float32Array, batch: ModelBatch, state0: Float32Array | undefined, dropout: Dropout | undefined): LmBuffers {
    const { config } = this;
    if (params.length !== paramCount(config)) {
      throw new ShapeError(`params has ${params.length} values; expected ${paramCount(config)} for this model config`);
    }
    validateModelBatch(batch, config);
    checkState(config, batch.B, state0);
    const b = this.buffers;
    // room for dropout once a pass asks for it, kept for the passes without (evaluation on the training engine)
    const dropped = droppedLayers(config, dropout, b?.dropped);
    if (b !== undefined && buffersServe(b, batch.T, batch.B, dropped, this.bufferMemory)) return b;
    // training and validation alternate between two shapes: the other one's views are kept, not made again
    const spare = this.spareBuffers;
    this.spareBuffers = b;
    if (spare !== undefined && buffersServe(spare, batch.T, batch.B, dropped, this.bufferMemory)) return (this.buffers = spare);
    this.buffers = undefined; // if allocate throws, no stale buffers stay behind
    const fresh = createLmBuffers(config, batch.T, batch.B, (n) => reuseOwned(this.owned, this.bufferMemory, n), { ...this.bufferOptions, dropped });
    this.buffers = fresh;
    return fresh;
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

  /** A batch's inputs or targets where the kernels use them in place: `data` itself, or a copy in the buffers (same type: checked). */
  private data(slot: BatchData, data: BatchData): BatchData {
    if (this.kernels.isResident(data)) return data;
    slot.set(data);
    return slot;
  }
}

/**
 * Which layers' outputs the buffers need room to drop out: those this pass drops, and those they already have room for.
 * @param config model shape
 * @param dropout this pass's dropout
 * @param have the current buffers' dropped arrays
 * @returns per layer
 */
export function droppedLayers(config: ModelConfig, dropout: Dropout | undefined, have: readonly (Float32Array | undefined)[] | undefined): boolean[] {
  return Array.from({ length: config.layers }, (_, l) => dropRate(dropout, l, config.layers) > 0 || have?.[l] !== undefined);
}

/**
 * Check the length of an initial state given to an engine.
 * @param config model shape
 * @param B sequences
 * @param state0 the state, or undefined for zeros
 * @throws ShapeError naming the expected layout
 */
export function checkState(config: ModelConfig, B: number, state0: Float32Array | undefined): void {
  const expected = stateLength(config, B);
  if (state0 !== undefined && state0.length !== expected) {
    const cell = cellOf(config.cell);
    const layout = cell.stateNames.length === 1 ? "L·B·H" : `${cell.stateNames.length}·L·B·H (${cell.stateNames.join(", ")})`;
    throw new ShapeError(`the initial state has ${state0.length} values; expected ${layout} = ${expected} for cell ${cell.name}`);
  }
}
