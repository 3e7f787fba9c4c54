/**
 * What a recurrent cell is to the rest of bptt. A cell is one folder, src/cells/<name>/, holding
 * its spec (the `Cell` object below), its fast layer over the `Kernels` interface, its float64
 * reference step and what the playground shows for it; src/cells/index.ts registers it. Everything
 * else — the parameter layout, the model head, stacking, the engines, the trainer, checkpoints,
 * the CLI and the playground — asks the cell instead of assuming one.
 *
 * The contract, per layer (docs/derivation.md gives each cell's equations):
 *   - Parameters are PyTorch's: W_ih (G·H, in), W_hh (G·H, H), b_ih, b_hh (G·H), with G row
 *     blocks in the cell's gate order (`gateNames`).
 *   - The state carried through time is `stateNames` (h, or h and c), each (B, H) per layer.
 *   - The model computes the input projection W_ih x_t for all T·B rows (a column gather for one-hot
 *     input, a GEMM for a stacked layer) and writes it into `xProj`; the cell adds the biases and
 *     runs the recurrence; h_1..h_T come out in `hOut`. Backward, the model writes ∂E/∂h_t from
 *     above into `dhOut`; the cell runs BPTT through its recurrence, accumulates the gradients of
 *     W_hh and the biases, writes ∂E/∂(state_0), and leaves ∂E/∂(W_ih x_t) in `dxProj`, from which
 *     the model forms ∂E/∂W_ih and the gradient for the layer below.
 */
import type { Kernels, Nonlinearity } from "../kernels/types.ts";

/** The recurrent cells bptt implements: the names of the registry's cells (src/cells/index.ts). */
export type { CellName } from "./index.ts";

/** Nonlinearity f1 of the simple RNN; the gated cells use tanh (and σ for their gates). Defined below the kernels, which take it. */
export type { Nonlinearity } from "../kernels/types.ts";

/** Any float precision: the fast layers use float32, the reference float64. */
export type FloatArray = Float32Array | Float64Array;

/** Views of one layer's parameters (or gradients), PyTorch's tensors of nn.RNN/LSTM/GRU. */
export interface LayerParams<A extends FloatArray> {
  /** W_ih (G·H, in) */
  readonly Wi: A;
  /** W_hh (G·H, H) */
  readonly Wh: A;
  /** b_ih (G·H), or undefined without bias */
  readonly bih: A | undefined;
  /** b_hh (G·H), or undefined without bias */
  readonly bhh: A | undefined;
}

/** The arrays every cell's buffers expose to the model, for one layer and one (T, B) shape. */
export interface CellBuffers {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  /** (T·B, G·H): the model writes W_ih x_t for every row here before forward. */
  readonly xProj: Float32Array;
  /** (T·B, H): h_1..h_T after forward, row r = (t−1)·B + b. */
  readonly hOut: Float32Array;
  /** (T·B, H): the model writes ∂E/∂h_t from above here before backward (the cell may overwrite it). */
  readonly dhOut: Float32Array;
  /** (T·B, G·H): after backward, ∂E/∂(W_ih x_t) for every row. */
  readonly dxProj: Float32Array;
  /** One (B, H) view per state name: written with the initial state before forward. */
  readonly state0: readonly Float32Array[];
  /** One (B, H) view per state name: the state after step T, once forward has run. */
  readonly stateT: readonly Float32Array[];
  /** Room for W_hh packed for the recurrence (`packedRecurrentFloats` in buffers.ts; empty where the chunk does not pack: T = 1 or B < 4). */
  readonly packedWh: Float32Array;
}

/** Options of a cell's buffers. */
export interface CellBufferOptions {
  /**
   * Keep the forward activations through backward (for diagnostics, e.g. gate saturation),
   * instead of letting backward overwrite them in place to save memory. Default false.
   */
  readonly keepActivations?: boolean;
}

/**
 * A cell's fast float32 layer: forward and BPTT over B sequences of T steps, over the Kernels.
 * `Buf` is the cell's own buffers type (methods are bivariant, so a `CellLayer<RnnBuffers>` is a `CellLayer`).
 */
export interface CellLayer<Buf extends CellBuffers = CellBuffers> {
  /**
   * Floats of memory one layer's buffers take.
   * @returns the length of the block `createBuffers` carves its arrays from
   */
  bufferFloats(T: number, B: number, H: number, options?: CellBufferOptions): number;
  /**
   * Carve one layer's buffers out of a zeroed block.
   * @param memory at least bufferFloats(T, B, H, options) zeroed floats (kernel memory: see Kernels.allocate)
   * @returns the buffers, with per-step views made once
   */
  createBuffers(T: number, B: number, H: number, memory: Float32Array, options?: CellBufferOptions): Buf;
  /**
   * Forward through time: on entry xProj holds W_ih x_t and state0 the initial state; on return
   * hOut holds h_1..h_T and stateT the final state.
   */
  forward(buf: Buf, p: LayerParams<Float32Array>, f: Nonlinearity, k: Kernels): void;
  /**
   * BPTT through the layer: on entry dhOut holds ∂E/∂h_t from above; on return dxProj holds
   * ∂E/∂(W_ih x_t); the gradients of W_hh, b_ih, b_hh are accumulated (+=) into `g` (g.Wi is left
   * to the model); dState0[s] (B, H) is overwritten with ∂E/∂(state_0 s).
   */
  backward(buf: Buf, p: LayerParams<Float32Array>, g: LayerParams<Float32Array>, dState0: readonly Float32Array[], f: Nonlinearity, k: Kernels): void;
}

/** What one reference step keeps for its backward step; `state` is (h_t) or (h_t, c_t). */
export interface ReferenceStep {
  /** The state after the step, one array of H per state name. */
  readonly state: readonly Float64Array[];
}

/**
 * A cell's float64 reference: one time step of one sequence, in plain loops with one equation a
 * line. It shares no code with the fast layer (docs/architecture.md, The oracle: an oracle that reuses the code it checks proves nothing).
 */
export interface ReferenceCell<Step extends ReferenceStep = ReferenceStep> {
  /**
   * One step forward.
   * @param p the layer's parameters
   * @param H hidden units
   * @param xProj W_ih x_t (G·H), without bias: the model computes it (a column of W_ih for one-hot x_t)
   * @param prev the state at t−1, one array of H per state name
   * @returns the new state and what backward needs
   */
  forward(p: LayerParams<Float64Array>, H: number, f: Nonlinearity, xProj: Float64Array, prev: readonly Float64Array[]): Step;
  /**
   * One step backward.
   * @param dState ∂E/∂(state_t), total (from above and from step t+1), one array of H per state name
   * @returns ∂E/∂(W_ih x_t) (G·H) and ∂E/∂(state_{t−1}) through this step; gradients of W_hh, b_ih,
   *   b_hh accumulated into `g`
   */
  backward(
    p: LayerParams<Float64Array>, g: LayerParams<Float64Array>, H: number, f: Nonlinearity,
    step: Step, prev: readonly Float64Array[], dState: readonly Float64Array[],
  ): { readonly dxProj: Float64Array; readonly dPrev: readonly Float64Array[] };
  /**
   * The total derivative of the loss in each state tensor of step t: `backward`'s dState treats
   * them as separate variables (h from above and from step t+1, the others from t+1 only); a state
   * that h_t is made from (the LSTM's c_t: h_t = o_t ⊙ tanh c_t, L4) adds the path through h_t.
   * For the vanishing-gradient view (src/reference/lm.ts referenceStepGradients).
   * @param step the step's record from `forward`
   * @param dState ∂E/∂(state_t) as `backward` receives it
   * @returns one array of H per state name; a state nothing else is made from is its dState as is
   */
  totalStateGradients(step: Step, dState: readonly Float64Array[]): readonly Float64Array[];
}

/** A per-step series of one layer's chunk diagnostics, t = 1..T at index t−1. */
export interface DiagnosticSeries {
  /** Stable key, e.g. "dhBar". */
  readonly key: string;
  /** What it is, in words, e.g. "‖∂E/∂h̄_t‖". */
  readonly label: string;
  /** (T) float64 values. */
  readonly values: Float64Array;
}

/** The share of one gate's activations near its ends over a chunk. */
export interface GateSaturation {
  /** Gate name, e.g. "f", or "h" for the simple RNN's f1. */
  readonly gate: string;
  /** Share near the low end (gates: σ < 0.1, tanh < −0.8; the simple RNN's f1: both ends, see SATURATION_THRESHOLD), in [0, 1]. */
  readonly low: number;
  /** Share near the high end (gates: σ > 0.9, tanh > 0.8; 0 for the simple RNN's f1), in [0, 1]. */
  readonly high: number;
}

/** What a cell reports about the chunk its layer last ran forward and backward over. */
export interface CellDiagnostics {
  /** Per-step norms of the gradients through time (the first is always ‖∂E/∂(pre-activations)_t‖). */
  readonly series: readonly DiagnosticSeries[];
  /** Per gate, the share of saturated activations. */
  readonly saturation: readonly GateSaturation[];
}

/** One per-step series of the diagnostics as the playground plots it. */
export interface SeriesTerm {
  /** The series' key (DiagnosticSeries.key). */
  readonly key: string;
  /** What it is, in KaTeX, naming the equation it comes from. */
  readonly tex: string;
  /** Its plain-text name, for legends. */
  readonly legend: string;
}

/** A gate as the saturation view shows it. */
export interface GateTerm {
  /** The gate's name (GateSaturation.gate). */
  readonly gate: string;
  /** What produced it: its two ends are 0 and 1 (σ) or −1 and 1 (tanh). */
  readonly kind: "sigmoid" | "tanh";
  /** What it is, in KaTeX, naming its equation. */
  readonly tex: string;
}

/**
 * How the playground reads a cell's saturation: either one share of f1's flat ends per layer
 * (a cell whose output is f1 of its pre-activation: the simple RNN), or per gate, the shares at
 * its low and at its high end (the diagnostics report one GateSaturation per gate, in this order).
 */
export type SaturationView =
  | { readonly kind: "output"; readonly intro: string; readonly tex: string }
  | { readonly kind: "gates"; readonly intro: string; readonly gates: readonly GateTerm[] };

/** A state tensor the hidden-state-over-text view can show. */
export interface StateTerm {
  /** One of the cell's stateNames. */
  readonly name: string;
  /** What it is, in KaTeX, naming its equation. */
  readonly tex: string;
  /**
   * Unbounded (the LSTM's c_t): counted as saturated where tanh of it is. Otherwise it is an
   * output of f1 (tanh for the gated cells), saturated at f1's flat ends.
   */
  readonly unbounded: boolean;
}

/**
 * What the playground shows for a cell: its equations (KaTeX), the texts and terms of its views,
 * and how to read its buffers. Text with $KaTeX$ segments is rendered by the page's renderRich.
 */
export interface CellView<Buf extends CellBuffers = CellBuffers> {
  /** Its name in the page's sentences, e.g. "simple RNN". */
  readonly name: string;
  /** Forward equations, [tag, KaTeX] in docs/derivation.md's numbering. */
  readonly forward: readonly (readonly [string, string])[];
  /** Backward equations. */
  readonly backward: readonly (readonly [string, string])[];
  /** The gradient-flow view: the tags of the backward equations shown above it, its first words, and its series in the order `diagnostics` reports them. */
  readonly gradient: { readonly tags: readonly string[]; readonly intro: string; readonly series: readonly SeriesTerm[] };
  /** The saturation view. */
  readonly saturation: SaturationView;
  /** The state tensors the hidden-state-over-text view can show, e.g. h and c. */
  readonly states: readonly StateTerm[];
  /**
   * Diagnostics of the last forward and backward pass (float64, small results).
   * @param buf the layer's buffers after backward (made with keepActivations)
   */
  diagnostics(buf: Buf, f: Nonlinearity): CellDiagnostics;
  /**
   * One state tensor over the steps of a forward pass, for one sequence.
   * @param buf the layer's buffers after forward
   * @param state index into the cell's stateNames
   * @param b the sequence
   * @returns (T·H) values: step t's H values at (t−1)·H
   */
  stateOverTime(buf: Buf, state: number, b: number): Float32Array;
}

/** A recurrent cell: its spec, fast layer, reference and view. */
export interface Cell<Buf extends CellBuffers = CellBuffers, Step extends ReferenceStep = ReferenceStep, Name extends string = string> {
  /** Its name in options, checkpoints and messages, e.g. "lstm" (the registry's CellName). */
  readonly name: Name;
  /** For messages, e.g. "LSTM". */
  readonly title: string;
  /** Gate names in PyTorch's row-block order; G = gateNames.length blocks of H rows. */
  readonly gateNames: readonly string[];
  /** State tensors carried through time, each (L, B, H): ["h"] or ["h", "c"]. */
  readonly stateNames: readonly string[];
  /**
   * The checkpoint's extra tensor that holds each carried state between chunks of a run
   * (src/train/run-state.ts), one per `stateNames` entry: "train.hidden" for h, "train.cell" for the LSTM's c.
   */
  readonly stateKeys: readonly string[];
  /**
   * The gate whose bias `initParams`' forget bias sets (src/model/init.ts), if the cell has a gate
   * that keeps the state where it is near 1: the LSTM's f. Undefined: the option is refused.
   */
  readonly forgetGate?: string;
  /** Accepted f1 values; the first is the default. Gated cells accept only "tanh". */
  readonly nonlinearities: readonly Nonlinearity[];
  readonly layer: CellLayer<Buf>;
  readonly reference: ReferenceCell<Step>;
  readonly view: CellView<Buf>;
  /** How ONNX (opset 17) writes one layer of this cell, for `bptt export`; undefined for a cell ONNX has no operator for (export refuses it). */
  readonly onnx?: OnnxCell;
}

/** A cell as one ONNX operator per layer (onnx.ai's Operators.md: RNN, LSTM, GRU). */
export interface OnnxCell {
  /** The operator. Its inputs are X, W, R, B, sequence_lens, then one initial state per `stateNames` entry; its outputs Y, then one final state each. */
  readonly op: "RNN" | "LSTM" | "GRU";
  /** The operator's gate blocks in ONNX's order, as names from `gateNames` (e.g. the LSTM's i, o, f, g for ONNX's i, o, f, c). */
  readonly gateOrder: readonly string[];
  /** The operator's attributes besides hidden_size, for a nonlinearity f1 the cell accepts. */
  attributes(nonlinearity: Nonlinearity): Readonly<Record<string, number | readonly string[]>>;
}
