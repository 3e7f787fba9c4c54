/**
 * The sizes of a language model, derived in this one place from its config and its cell's spec
 * (src/cells/): the parameter layout, the carried state, the arithmetic per token.
 *
 * All parameters live in one flat array (llm.c's params_memory) in PyTorch's state_dict order,
 * with named views: an optimizer or the checkpoint writer needs one loop, and the buffer maps
 * directly onto WebAssembly memory. Names and shapes are those of PyTorch's nn.RNN / nn.LSTM /
 * nn.GRU + nn.Linear (DESIGN §3), matrices row-major (out, in), G the cell's gate blocks
 * (1 simple RNN; 4 LSTM: i, f, g, o; 3 GRU: r, z, n):
 *   rnn.weight_ih_l{k} [G·H, in_k]  (in_0 = V, in_k = H)   W_ih of layer k
 *   rnn.weight_hh_l{k} [G·H, H]                              W_hh of layer k
 *   rnn.bias_ih_l{k}, rnn.bias_hh_l{k} [G·H]                 b_ih, b_hh (PyTorch keeps two)
 *   fc.weight [V, H], fc.bias [V]                            W_o, b_o
 * With bias: false there are no bias tensors at all.
 */
import { cellOf } from "../cells/index.ts";
import type { FloatArray, LayerParams } from "../cells/types.ts";
import type { ModelConfig } from "./config.ts";

export type { FloatArray, LayerParams };

/** One named tensor of the layout. */
export interface ParamSpec {
  /** PyTorch state_dict name, e.g. "rnn.weight_hh_l0". */
  readonly name: string;
  /** Row-major shape, e.g. [H, H]. */
  readonly shape: readonly number[];
  /** Offset in elements into the flat parameter array. */
  readonly offset: number;
  /** Number of elements (product of shape). */
  readonly size: number;
}

/** Named views of all parameters (or gradients) over one flat array. */
export interface ParamViews<A extends FloatArray> {
  readonly layers: readonly LayerParams<A>[];
  /** W_o (V, H) */
  readonly Wo: A;
  /** b_o (V), or undefined without bias */
  readonly bo: A | undefined;
}

/**
 * The tensors of a model, in PyTorch's state_dict order.
 * @param config model shape
 * @returns one spec per tensor, with offsets into a flat array
 */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const { hiddenSize: H, vocabSize: V, layers: L, bias } = config;
  const G = gateCount(config);
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size });
    offset += size;
  };
  for (let k = 0; k < L; k++) {
    add(`rnn.weight_ih_l${k}`, [G * H, k === 0 ? V : H]);
    add(`rnn.weight_hh_l${k}`, [G * H, H]);
    if (bias) {
      add(`rnn.bias_ih_l${k}`, [G * H]);
      add(`rnn.bias_hh_l${k}`, [G * H]);
    }
  }
  add("fc.weight", [V, H]);
  if (bias) add("fc.bias", [V]);
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
 * gradients; DESIGN §4): per layer 6·G·H² for the recurrent matrix (h W_hhᵀ, δ W_hh, dW_hh), for
 * layers above the first 6·G·H·H for the input projection (one-hot input costs no product), and
 * 6·V·H for the output layer. Element-wise work (the gates) is left out.
 * @param config model shape
 * @returns FLOPs per token
 */
export function trainingFlopsPerToken(config: ModelConfig): number {
  const { hiddenSize: H, vocabSize: V, layers: L } = config;
  const G = gateCount(config);
  return 6 * G * H * H * L + 6 * G * H * H * (L - 1) + 6 * V * H;
}

/**
 * Total number of parameters.
 * @param config model shape
 * @returns the length of the flat parameter array
 */
export function paramCount(config: ModelConfig): number {
  // paramSpecs' sizes summed in closed form (asked at every step, where building the list would be
  // garbage); params.test.ts holds it to paramSpecs
  const { hiddenSize: H, vocabSize: V, layers: L, bias } = config;
  const GH = gateCount(config) * H;
  const inputs = L === 0 ? 0 : V + (L - 1) * H; // weight_ih: V columns in layer 0, H above
  return GH * inputs + L * GH * H + (bias ? 2 * L * GH : 0) + V * H + (bias ? V : 0);
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
  const layers: LayerParams<A>[] = [];
  for (let k = 0; k < config.layers; k++) {
    layers.push({
      Wi: get(`rnn.weight_ih_l${k}`),
      Wh: get(`rnn.weight_hh_l${k}`),
      bih: byName.get(`rnn.bias_ih_l${k}`),
      bhh: byName.get(`rnn.bias_hh_l${k}`),
    });
  }
  return { layers, Wo: get("fc.weight"), bo: byName.get("fc.bias") };
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

