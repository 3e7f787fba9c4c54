/**
 * What a model input is to the rest of bptt. The model is input → cell stack → head: the input
 * turns a batch's inputs x_t into the input projection W_ih^(0) x_t of the stack's first layer, the
 * cells (src/cells/) run the recurrence, the head (src/heads/) reads the top layer's outputs and
 * gives the loss. An input is one folder, src/inputs/<name>/, holding its spec (the `InputUnit`
 * object below), its fast forward and backward over the `Kernels` interface and its float64
 * reference; src/inputs/index.ts registers it. The parameter layout (src/model/params.ts), the
 * engines (src/model/lm.ts, threaded.ts), the reference (src/reference/lm.ts), checkpoints and the
 * ONNX export ask the config's input instead of assuming one.
 *
 * The contract:
 *   - The input says how wide x_t is for the stack: in_0 = `width(config)`, so that layer 0's
 *     W_ih is (G·H, in_0), PyTorch's `rnn.weight_ih_l0`. That tensor belongs to the stack (it is
 *     the cell's own), but the input computes W_ih^(0) x_t, because only it knows what x_t is:
 *     forward writes it for all T·B rows into the layer's `xProj`; backward reads ∂E/∂(W_ih x_t)
 *     from the layer's `dxProj` and accumulates ∂E/∂W_ih^(0) (and the gradients of its own
 *     tensors). Nothing flows below the input.
 *   - Its own tensors (`tensors`, none for one-hot) come first in the state_dict, before the stack's.
 *   - What a batch's inputs are is its `layout` (token ids or real values, per step); `check`
 *     refuses a batch's inputs it cannot read, before any arithmetic.
 *   - Its part of the checkpoint config is its name under `input` (src/model/config.ts), left out
 *     for one-hot, the default, so that today's configs keep their bytes; sizes of its own get keys
 *     of their own there, left out likewise when the input has none.
 *
 * How the inputs to come fit it (none is implemented yet):
 *   - Embedding (`nn.Embedding(V, E)`): a tensor `embed.weight` [V, E] of its own, width E. Forward
 *     gathers the rows of embed.weight for the ids into (T·B, E) activations of its own, then one
 *     GEMM with W_ih^(0); backward forms dW_ih^(0) with a GEMM, the gradient of the embedded rows
 *     with another, and scatter-adds those rows into d embed.weight. It needs room for the gathered
 *     rows: it will add `bufferFloats` to `InputLayer`, as the head has (src/heads/types.ts). Its
 *     tensor is drawn from N(0, 1) in PyTorch, so src/model/init.ts will ask the unit how to draw it.
 *     Tied weights (`--tie`) share embed.weight with the head's fc.weight.
 *   - Dense (D real features per step, a forecaster's standardised columns): no tensor of its own,
 *     width D, layout { type: "float32", per: "step", width: D }; W_ih^(0) x_t is one GEMM of the
 *     (T·B, D) features with W_ih^(0)ᵀ, and backward one GEMM for dW_ih^(0) (nn/linear.ts has both).
 *     Its FLOPs per token are the 6·G·H·D of those products.
 *   - Bidirectional stacks add PyTorch's `_reverse` tensors to the stack, not to the input: the
 *     input's projection is computed once per direction with that direction's W_ih^(0).
 */
import type { Kernels } from "../kernels/types.ts";
import type { OnnxGraph, OnnxValue } from "../io/onnx/graph.ts";
import type { BatchData, DataLayout } from "../model/batch-data.ts";
import type { ModelConfig } from "../model/config.ts";
import type { TensorShape } from "../model/params.ts";
import type { Rng } from "../rng.ts";

/** The inputs bptt implements: the names of the registry's inputs (src/inputs/index.ts). */
export type { InputName } from "./index.ts";

/**
 * An input's fast float32 forward and backward over all T·B rows at once, over the Kernels.
 * `Data` is the kind of batch inputs it reads (methods are bivariant, so an `InputLayer<Int32Array>` is an `InputLayer`).
 */
export interface InputLayer<Data extends BatchData = BatchData> {
  /**
   * Forward: W_ih^(0) x_t for every row, written into xProj.
   * @param xProj (T·B, G·H), overwritten: layer 0's input projection, row r = t·B + b
   * @param Wi layer 0's W_ih (G·H, in_0)
   * @param own views of the input's own tensors, in the order of `tensors`
   * @param data the batch's inputs, checked by `check`
   * @param rows T·B
   * @param GH G·H, the rows of W_ih
   */
  forward(xProj: Float32Array, Wi: Float32Array, own: readonly Float32Array[], data: Data, rows: number, GH: number, config: ModelConfig, k: Kernels): void;
  /**
   * Backward: dW_ih^(0) += Σ_rows ∂E/∂(W_ih x_t) x_tᵀ, and the gradients of the input's own tensors (+=).
   * @param dWi layer 0's ∂E/∂W_ih (G·H, in_0), accumulated
   * @param gOwn gradients of the input's own tensors, accumulated
   * @param dxProj (T·B, G·H): ∂E/∂(W_ih x_t), as the cell left it
   * @param Wi layer 0's W_ih
   * @param own the input's own tensors
   * @param data the inputs given to forward
   */
  backward(
    dWi: Float32Array, gOwn: readonly Float32Array[], dxProj: Float32Array, Wi: Float32Array, own: readonly Float32Array[],
    data: Data, rows: number, GH: number, config: ModelConfig, k: Kernels,
  ): void;
}

/**
 * An input's float64 reference: one step of one sequence, in plain loops with one equation a line,
 * sharing no code with its fast layer.
 */
export interface ReferenceInput<Data extends BatchData = BatchData> {
  /**
   * W_ih^(0) x_t of sequence b at step t.
   * @param Wi layer 0's W_ih (G·H, in_0)
   * @param own the input's own tensors
   * @param data the batch's inputs
   * @param t the step, 1..T
   * @param b the sequence
   * @param B sequences in the batch
   * @param GH G·H
   * @returns (G·H) values
   */
  project(Wi: Float64Array, own: readonly Float64Array[], data: Data, t: number, b: number, B: number, GH: number, config: ModelConfig): Float64Array;
  /**
   * dW_ih^(0) += ∂E/∂(W_ih x_t) x_tᵀ for sequence b at step t, and the input's own gradients.
   * @param dWi layer 0's ∂E/∂W_ih, accumulated
   * @param gOwn gradients of the input's own tensors, accumulated
   * @param dxProj (G·H): ∂E/∂(W_ih x_t), from the cell's reference step
   */
  backward(
    dWi: Float64Array, gOwn: readonly Float64Array[], dxProj: Float64Array, Wi: Float64Array, own: readonly Float64Array[],
    data: Data, t: number, b: number, B: number, GH: number, config: ModelConfig,
  ): void;
}

/** An input's part of the ONNX graph (src/io/onnx/export.ts). */
export interface OnnxInput {
  /**
   * Add the graph's input(s) and the nodes from them to x_t as the recurrent operators read it:
   * time-major [seq, batch, in_0] (their layout 0).
   * @param g the graph
   * @param own the input's own tensors
   * @param x the name to give x_t
   * @returns the graph inputs it reads
   */
  build(g: OnnxGraph, config: ModelConfig, own: readonly Float32Array[], x: string): readonly OnnxValue[];
  /** The graph inputs in words, for the model's doc string, e.g. "tokens [batch, seq]". */
  readonly doc: string;
}

/** A model input: its spec, fast layer, reference and ONNX part. */
export interface InputUnit<Data extends BatchData = BatchData, Name extends string = string> {
  /** Its name in configs and messages, e.g. "onehot" (the registry's InputName). */
  readonly name: Name;
  /** For messages, e.g. "one-hot". */
  readonly title: string;
  /**
   * @returns in_0, the width of x_t as layer 0's W_ih reads it (V for one-hot)
   */
  width(config: ModelConfig): number;
  /**
   * @returns the config's sizes that in_0 comes from, for messages, e.g. "vocabSize 65"
   */
  sizes(config: ModelConfig): string;
  /**
   * @returns what a batch's inputs are (one-hot: one int32 token id per step)
   */
  layout(config: ModelConfig): DataLayout;
  /**
   * @returns its own tensors, in state_dict order, PyTorch's names and shapes (one-hot: none)
   */
  tensors(config: ModelConfig): readonly TensorShape[];
  /**
   * @returns the values of `tensors` in all, in closed form (asked at every step)
   */
  paramCount(config: ModelConfig): number;
  /** Every tensor name any config of this input can have: a checkpoint's tensor of such a name must be one of `tensors`. */
  readonly tensorNames: readonly string[];
  /**
   * Training FLOPs per token of its own work and of layer 0's W_ih x_t (see src/model/params.ts).
   * @param GH G·H, the rows of layer 0's W_ih
   * @returns 0 for one-hot (a column gather)
   */
  trainingFlopsPerToken(config: ModelConfig, GH: number): number;
  /**
   * Check a batch's inputs before any arithmetic.
   * @param data the batch's inputs
   * @param T steps
   * @param B sequences
   * @throws ShapeError for the wrong array type or length, DataError for a value it cannot read, naming its position
   */
  check(data: BatchData, T: number, B: number, config: ModelConfig): void;
  /**
   * One random value of a batch's inputs that `check` accepts, for gradcheck's random problems
   * (src/reference/gradcheck.ts), drawn from `rng`.
   * @returns a token id uniform in [0, V) for one-hot
   */
  randomValue(config: ModelConfig, rng: Rng): number;
  readonly layer: InputLayer<Data>;
  readonly reference: ReferenceInput<Data>;
  readonly onnx: OnnxInput;
}
