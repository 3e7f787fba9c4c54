/**
 * The sizes of a model, derived in this one place from its config and the specs of its three
 * parts, input (src/inputs/), cell (src/cells/) and head (src/heads/): the parameter layout, the
 * carried state, the arithmetic per token.
 *
 * All parameters live in one flat array (llm.c's params_memory) in PyTorch's state_dict order,
 * with named views: an optimizer or the checkpoint writer needs one loop, and the buffer maps
 * directly onto WebAssembly memory. Names and shapes are PyTorch's, matrices row-major (out, in):
 * the input's own tensors (none for one-hot), then the stack's, nn.RNN / nn.LSTM / nn.GRU, with G
 * the cell's gate blocks (1 simple RNN; 4 LSTM: i, f, g, o; 3 GRU: r, z, n), then the head's
 * (the softmax head's nn.Linear):
 *   rnn.weight_ih_l{k} [G·H, in_k]  (in_0 = the input's width, V for one-hot; in_k = H)   W_ih of layer k
 *   rnn.weight_hh_l{k} [G·H, H]                              W_hh of layer k
 *   rnn.bias_ih_l{k}, rnn.bias_hh_l{k} [G·H]                 b_ih, b_hh (PyTorch keeps two)
 *   fc.weight [V, H], fc.bias [V]                            W_o, b_o of the softmax head
 * With bias: false there are no bias tensors at all.
 */
import { cellOf } from "../cells/index.ts";
import type { FloatArray, LayerParams } from "../cells/types.ts";
import { headOf } from "../heads/index.ts";
import { inputOf } from "../inputs/index.ts";
import type { ModelConfig } from "./config.ts";

export type { FloatArray, LayerParams };

/** A tensor as a unit declares it: PyTorch's name and shape. */
export interface TensorShape {
  /** PyTorch state_dict name, e.g. "fc.weight". */
  readonly name: string;
  /** Row-major shape, e.g. [V, H]. */
  readonly shape: readonly number[];
}

/** One named tensor of the layout. */
export interface ParamSpec extends TensorShape {
  /** Offset in elements into the flat parameter array. */
  readonly offset: number;
  /** Number of elements (product of shape). */
  readonly size: number;
}

/** Named views of all parameters (or gradients) over one flat array. */
export interface ParamViews<A extends FloatArray> {
  /** The input's own tensors, in the order of its `tensors` (none for one-hot). */
  readonly input: readonly A[];
  /** The stack's layers, bottom first. */
  readonly layers: readonly LayerParams<A>[];
  /** The head's tensors, in the order of its `tensors` (the softmax head: fc.weight (V, H), then fc.bias (V) with bias). */
  readonly head: readonly A[];
}

/**
 * The tensors of a model, in PyTorch's state_dict order.
 * @param config model shape
 * @returns one spec per tensor, with offsets into a flat array
 */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const { hiddenSize: H, layers: L, bias } = config;
  const G = gateCount(config);
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = ({ name, shape }: TensorShape): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size });
    offset += size;
  };
  inputOf(config).tensors(config).forEach(add);
  const in0 = inputOf(config).width(config);
  for (let k = 0; k < L; k++) {
    add({ name: `rnn.weight_ih_l${k}`, shape: [G * H, k === 0 ? in0 : H] });
    add({ name: `rnn.weight_hh_l${k}`, shape: [G * H, H] });
    if (bias) {
      add({ name: `rnn.bias_ih_l${k}`, shape: [G * H] });
      add({ name: `rnn.bias_hh_l${k}`, shape: [G * H] });
    }
  }
  headOf(config).tensors(config).forEach(add);
  return specs;
}

/**
 * @param config model shape
 * @returns G, the gate blocks of the cell's weight matrices (1, 4 or 3)
 */
export function gateCount(config: ModelConfig): number {
  return cellOf(config.cell).gateNames.length;
}

/**
 * The number of state tensors the cell carries through time (1: h; 2: h and c).
 * @param config model shape
 * @returns S
 */
export function stateCount(config: ModelConfig): number {
  return cellOf(config.cell).stateNames.length;
}

/**
 * Length of the state carried from chunk to chunk (h_0, and c_0 for the LSTM), laid out
 * (S, L, B, H): every layer's h for all B sequences, then every layer's c. PyTorch's h_0 (and c_0)
 * have the layout of one (L, B, H) part.
 * @param config model shape
 * @param B sequences
 * @returns S·L·B·H
 */
export function stateLength(config: ModelConfig, B: number): number {
  return stateCount(config) * config.layers * B * config.hiddenSize;
}

/**
 * Training FLOPs per token (one step of one sequence through forward, full BPTT and the
 * gradients; each product of an m×n matrix by a vector costs 2·m·n, three times: forward, the
 * gradient it passes down and that of its matrix), the input's, the stack's and the head's: per
 * layer 6·G·H² for the recurrent matrix (h W_hhᵀ, δ W_hh, dW_hh), for layers above the first
 * 6·G·H·H for the input projection, layer 0's input projection as the input says (one-hot: none,
 * a column gather), and the head's (the softmax head: 6·V·H). Element-wise work (the gates) is left out.
 * @param config model shape
 * @returns FLOPs per token
 */
export function trainingFlopsPerToken(config: ModelConfig): number {
  const { hiddenSize: H, layers: L } = config;
  const G = gateCount(config);
  const stack = 6 * G * H * H * L + 6 * G * H * H * (L - 1);
  return inputOf(config).trainingFlopsPerToken(config, G * H) + stack + headOf(config).trainingFlopsPerToken(config);
}

/**
 * Total number of parameters.
 * @param config model shape
 * @returns the length of the flat parameter array
 */
export function paramCount(config: ModelConfig): number {
  // paramSpecs' sizes summed in closed form (asked at every step, where building the list would be
  // garbage); params.test.ts holds it to paramSpecs
  const { hiddenSize: H, layers: L, bias } = config;
  const GH = gateCount(config) * H;
  const input = inputOf(config);
  const inputs = L === 0 ? 0 : input.width(config) + (L - 1) * H; // weight_ih: in_0 columns in layer 0, H above
  return input.paramCount(config) + GH * inputs + L * GH * H + (bias ? 2 * L * GH : 0) + headOf(config).paramCount(config);
}

/**
 * Named views into a flat parameter (or gradient) array.
 * @param config model shape
 * @param flat array of length paramCount(config)
 * @returns views sharing memory with `flat`
 */
export function paramViews<A extends FloatArray>(config: ModelConfig, flat: A): ParamViews<A> {
  const byName = new Map<string, A>();
  for (const s of paramSpecs(config)) byName.set(s.name, flat.subarray(s.offset, s.offset + s.size) as A);
  const get = (name: string): A => {
    const v = byName.get(name);
    if (v === undefined) throw new Error(`internal: no parameter ${name}`);
    return v;
  };
  const own = (tensors: readonly TensorShape[]): A[] => tensors.map((t) => get(t.name));
  const layers: LayerParams<A>[] = [];
  for (let k = 0; k < config.layers; k++) {
    layers.push({
      Wi: get(`rnn.weight_ih_l${k}`),
      Wh: get(`rnn.weight_hh_l${k}`),
      bih: byName.get(`rnn.bias_ih_l${k}`),
      bhh: byName.get(`rnn.bias_hh_l${k}`),
    });
  }
  return { input: own(inputOf(config).tensors(config)), layers, head: own(headOf(config).tensors(config)) };
}

/**
 * `paramViews` remembered per flat array: engines ask for the views of the same arrays every step.
 * @param config model shape
 * @returns a function giving the views of a flat float32 array, made on its first call for that array
 */
export function paramViewsMemo(config: ModelConfig): (flat: Float32Array) => ParamViews<Float32Array> {
  const memo = new WeakMap<Float32Array, ParamViews<Float32Array>>();
  return (flat) => {
    let v = memo.get(flat);
    if (v === undefined) {
      v = paramViews(config, flat);
      memo.set(flat, v);
    }
    return v;
  };
}

