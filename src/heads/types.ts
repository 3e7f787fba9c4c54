/**
 * What a model head is to the rest of bptt. The model is input (src/inputs/) → cell stack
 * (src/cells/) → head: the head reads the top layer's outputs h_t (after dropout, when training
 * drops them) and the batch's targets, and gives the loss E and, backward, ∂E/∂h_t for the top
 * layer. A head is one folder, src/heads/<name>/, holding its spec (the `HeadUnit` object below),
 * its fast forward and backward over the `Kernels` interface and its float64 reference;
 * src/heads/index.ts registers it. The parameter layout (src/model/params.ts), the engines
 * (src/model/lm.ts, threaded.ts), the reference (src/reference/lm.ts), checkpoints and the ONNX
 * export ask the config's head instead of assuming one.
 *
 * The contract:
 *   - Its tensors (`tensors`) come last in the state_dict, after the stack's. The heads planned
 *     are each a linear layer, PyTorch's nn.Linear `fc.weight` [out, in], `fc.bias` [out], in the
 *     top layer's width (H, or H·directions), followed by a loss.
 *   - Forward runs over all T·B rows of the top layer at once and returns E, the loss summed over
 *     what it reads (steps and sequences: the article's E; the trainer divides by T·B). Its
 *     activations live in a block of `bufferFloats` floats that the engine allocates for it once
 *     per shape (for the softmax head, the logits). Backward overwrites the top layer's `dhOut`
 *     with ∂E/∂h_t (times the gradient scale) and accumulates the gradients of its tensors.
 *   - What a batch's targets are is its `layout`; `check` refuses targets it cannot read, before
 *     any arithmetic.
 *   - Its part of the checkpoint config is its name under `head` (src/model/config.ts), left out
 *     for softmax, the default, so that today's configs keep their bytes; sizes of its own get keys
 *     of their own there, left out likewise when the head has none.
 *
 * How the heads to come fit it (none is implemented yet):
 *   - Regression (a forecaster): `fc` [D_out, H], MSE E = Σ_{t,b} ½‖ŷ_t − y_t‖² (or its mean
 *     over D_out); targets { type: "float32", per: "step", width: D_out }; its block holds the
 *     predictions ŷ, then ŷ − y for backward; the same two GEMMs as the softmax head.
 *   - Sequence classification: `fc` [K, H·directions], one label per sequence (targets
 *     { type: "int32", per: "sequence", width: 1 }), read at the last valid step of each sequence
 *     of a batch of variable lengths: the batch gains `lengths` (B), passed to `check`, forward and
 *     backward alongside the targets. Forward gathers h at step lengths[b] of each sequence into its
 *     block (B, H), then the logits (B, K) and the cross-entropy over B rows; backward writes zeros
 *     into ∂E/∂h_t everywhere but those steps. Bidirectional stacks give it H·directions columns:
 *     the forward direction's h at the last valid step next to the reverse direction's h at step 1.
 *   - A head with structured activations (the classifier's gathered rows and logits) carves its
 *     block into views once per shape: it will add `createBuffers`, as the cells have.
 */
import type { Kernels } from "../kernels/types.ts";
import type { OnnxGraph, OnnxValue } from "../io/onnx/graph.ts";
import type { BatchData, DataLayout } from "../model/batch-data.ts";
import type { ModelConfig } from "../model/config.ts";
import type { TensorShape } from "../model/params.ts";
import type { Rng } from "../rng.ts";

/** The heads bptt implements: the names of the registry's heads (src/heads/index.ts). */
export type { HeadName } from "./index.ts";

/**
 * A head's fast float32 forward and backward over all T·B rows of the top layer at once.
 * `Targets` is the kind of batch targets it reads (methods are bivariant, so a `HeadLayer<Int32Array>` is a `HeadLayer`).
 */
export interface HeadLayer<Targets extends BatchData = BatchData> {
  /**
   * @returns the floats of the head's activation block for a shape (the softmax head: T·B·V)
   */
  bufferFloats(T: number, B: number, config: ModelConfig): number;
  /**
   * Forward: the head's outputs into its block, and the loss.
   * @param out its block, bufferFloats(T, B, config) floats (kernel memory)
   * @param top the top layer's outputs as the head reads them (T·B, H), row r = t·B + b
   * @param own views of the head's tensors, in the order of `tensors`
   * @param targets the batch's targets, checked by `check`
   * @returns E, summed over what it reads, in float64
   */
  forward(out: Float32Array, top: Float32Array, own: readonly Float32Array[], targets: Targets, T: number, B: number, config: ModelConfig, k: Kernels): number;
  /**
   * Backward: dTop = scale·∂E/∂(top), and scale·∂E/∂(its tensors) accumulated (+=) into gOwn.
   * @param dTop (T·B, H), overwritten: what the top layer receives as its dhOut
   * @param gOwn gradients of its tensors, accumulated
   * @param out its block as forward left it (backward may overwrite it)
   * @param top the top layer's outputs given to forward
   * @param own its tensors
   * @param targets the targets given to forward
   * @param scale 1 for ∂E; 1/(T·B) for the mean loss
   */
  backward(
    dTop: Float32Array, gOwn: readonly Float32Array[], out: Float32Array, top: Float32Array, own: readonly Float32Array[],
    targets: Targets, scale: number, T: number, B: number, config: ModelConfig, k: Kernels,
  ): void;
}

/** What a reference head's forward keeps for its backward, for one sequence. */
export interface ReferenceHeadPass {
  /** (T): the loss of each step, e_t; E is their sum (0 at a step without a target). Gradcheck differences them. */
  readonly losses: Float64Array;
}

/**
 * A head's float64 reference over one sequence, in plain loops with one equation a line, sharing
 * no code with its fast layer. It sees the whole sequence, so a head that reads only some steps
 * (the classifier's last valid step) fits it as well as one that reads every step.
 */
export interface ReferenceHead<Targets extends BatchData = BatchData, Pass extends ReferenceHeadPass = ReferenceHeadPass> {
  /**
   * Forward over sequence b.
   * @param own the head's tensors
   * @param x the top layer's outputs (T+1, B, H): slot t (t = 1..T) holds h_t of every sequence
   * @param targets the batch's targets
   * @param b the sequence
   * @returns each step's loss and what backward needs
   */
  forward(own: readonly Float64Array[], x: Float64Array, targets: Targets, b: number, T: number, B: number, config: ModelConfig): Pass;
  /**
   * Backward over sequence b; accumulates ∂E/∂(its tensors) into gOwn.
   * @returns (T·H): ∂E/∂h_t of the top layer from the head, step t's H values at (t−1)·H
   */
  backward(
    own: readonly Float64Array[], gOwn: readonly Float64Array[], x: Float64Array, pass: Pass, targets: Targets,
    b: number, T: number, B: number, config: ModelConfig,
  ): Float64Array;
}

/** A head's part of the ONNX graph (src/io/onnx/export.ts). */
export interface OnnxHead {
  /**
   * Add the nodes from the top layer's outputs to the graph's output(s).
   * @param g the graph
   * @param own the head's tensors
   * @param h the top layer's outputs, time-major [seq, batch, H]
   * @returns the graph outputs it writes
   */
  build(g: OnnxGraph, config: ModelConfig, own: readonly Float32Array[], h: string): readonly OnnxValue[];
  /** What the model is, for its doc string, e.g. "language model". */
  readonly model: string;
  /** The graph outputs in words, e.g. "logits [batch, seq, vocab] (before the softmax)". */
  readonly doc: string;
}

/** A model head: its spec, fast layer, reference and ONNX part. */
export interface HeadUnit<Targets extends BatchData = BatchData, Name extends string = string> {
  /** Its name in configs and messages, e.g. "softmax" (the registry's HeadName). */
  readonly name: Name;
  /** For messages, e.g. "softmax cross-entropy". */
  readonly title: string;
  /**
   * @returns the config's sizes its tensors' first dimension comes from, for messages, e.g. "vocabSize 65"
   */
  sizes(config: ModelConfig): string;
  /**
   * @returns what a batch's targets are (softmax: one int32 token id per step)
   */
  layout(config: ModelConfig): DataLayout;
  /**
   * @returns its tensors, in state_dict order, PyTorch's names and shapes
   */
  tensors(config: ModelConfig): readonly TensorShape[];
  /**
   * @returns the values of `tensors` in all, in closed form (asked at every step)
   */
  paramCount(config: ModelConfig): number;
  /** Every tensor name any config of this head can have: a checkpoint's tensor of such a name must be one of `tensors`. */
  readonly tensorNames: readonly string[];
  /**
   * @returns training FLOPs per token of the head (src/model/params.ts): 6·V·H for the softmax head's three GEMMs
   */
  trainingFlopsPerToken(config: ModelConfig): number;
  /**
   * Check a batch's targets before any arithmetic.
   * @param targets the batch's targets
   * @param T steps
   * @param B sequences
   * @throws ShapeError for the wrong array type or length, DataError for a value it cannot read, naming its position
   */
  check(targets: BatchData, T: number, B: number, config: ModelConfig): void;
  /**
   * One random value of a batch's targets that `check` accepts, for gradcheck's random problems
   * (src/reference/gradcheck.ts), drawn from `rng`.
   * @returns a token id uniform in [0, V) for the softmax head
   */
  randomValue(config: ModelConfig, rng: Rng): number;
  readonly layer: HeadLayer<Targets>;
  readonly reference: ReferenceHead<Targets>;
  readonly onnx: OnnxHead;
  /** What the playground shows for it: its equations, as the cells' views give theirs (src/cells/types.ts CellView). */
  readonly view: HeadView;
}

/** A head's equations for the playground. */
export interface HeadView {
  /** Its name in the page's sentences, e.g. "output layer". */
  readonly name: string;
  /** Forward equations on top of the stack's h_t, [tag, KaTeX] in docs/derivation.md's numbering. */
  readonly forward: readonly (readonly [string, string])[];
  /** Backward equations, down to what it writes into the top layer's dh_t. */
  readonly backward: readonly (readonly [string, string])[];
}
