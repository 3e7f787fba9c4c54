/**
 * ONNX export (`bptt export`): a model as a standard ONNX graph (opset 17, IR version 8) that any
 * ONNX runtime runs without bptt. For a language model (one-hot input, softmax head):
 *
 *   inputs    tokens  int64   [batch, seq]       token ids in [0, V)
 *             h0      float32 [layers, batch, H]  (and c0 for the LSTM: one input per state tensor)
 *   outputs   logits  float32 [batch, seq, V]    ȳ_t = W_o h_t + b_o (F3), before the softmax
 *             hn      float32 [layers, batch, H]  (and cn): the state after the last step
 *   metadata  bptt.config  the checkpoint's config JSON;  bptt.vocab  the JSON array of the V symbols
 *
 * `batch` and `seq` are dynamic: a caller runs a whole text at once, or one token at a time with
 * the state carried. The graph is the model's three parts in turn: the input's nodes from its
 * graph inputs to x_t, time-major (one-hot: tokens → Transpose to [seq, batch] → OneHot; its
 * `onnx` part, src/inputs/), per layer one RNN / LSTM / GRU node (the cell's `onnx` spec:
 * operator, gate order, attributes) with its initial state sliced from h0 (c0), then the head's
 * nodes to its graph outputs (softmax: Transpose back → MatMul W_oᵀ (+ Add b_o); src/heads/). A
 * model without biases exports without B inputs and without the Add.
 *
 * The protobuf is encoded with protobufjs from ONNX's own onnx.proto (descriptor.ts); only the
 * graph's content is written here.
 */
import protobuf from "protobufjs/light.js";
import { cellOf } from "../../cells/index.ts";
import { ConfigError } from "../../errors.ts";
import { headOf } from "../../heads/index.ts";
import { inputOf } from "../../inputs/index.ts";
import type { LanguageModel } from "../../model/language-model.ts";
import { modelConfigJson, validateModelConfig } from "../../model/config.ts";
import { gateCount, paramViews } from "../../model/params.ts";
import { VERSION } from "../../version.ts";
import { ONNX_DESCRIPTOR } from "./descriptor.ts";
import type { OnnxAttribute, OnnxGraph, OnnxValue } from "./graph.ts";

/** The operator set the graph uses (LSTM/GRU/RNN as since opset 14, Squeeze/Slice with tensor inputs since 13). */
export const ONNX_OPSET = 17;
/** IR version 8: the ONNX 1.12 file format, which opset 17 came with. */
const IR_VERSION = 8;

/** onnx.proto's TensorProto.DataType values used here. */
const FLOAT = 1;
const INT64 = 7;
/** onnx.proto's AttributeProto.AttributeType values used here. */
const ATTR_INT = 2;
const ATTR_INTS = 7;
const ATTR_STRINGS = 8;

/** The subset of onnx.proto's messages the exporter writes, in protobufjs's camelCase field names. */
interface TensorProto { name: string; dims: number[]; dataType: number; rawData: Uint8Array }
interface AttributeProto { name: string; type: number; i?: number; ints?: number[]; strings?: Uint8Array[] }
interface NodeProto { name: string; opType: string; input: string[]; output: string[]; attribute: AttributeProto[] }
interface Dimension { dimValue?: number; dimParam?: string }
interface ValueInfoProto { name: string; type: { tensorType: { elemType: number; shape: { dim: Dimension[] } } } }

let modelType: protobuf.Type | undefined;

/**
 * The model as an ONNX file.
 * @param model shape, vocabulary and parameters (e.g. a loaded checkpoint)
 * @returns the bytes of the .onnx file
 * @throws ConfigError for an inconsistent model (parameters of the wrong length), or a cell without an ONNX operator (its `onnx` is undefined)
 */
export function modelToOnnx(model: LanguageModel): Uint8Array {
  const config = validateModelConfig(model.config, "cannot export model");
  const { layers: L, hiddenSize: H, bias } = config;
  const input = inputOf(config);
  const cell = cellOf(config.cell);
  const onnx = cell.onnx;
  if (onnx === undefined) throw new ConfigError(`cannot export model: ONNX has no operator for the ${cell.title} cell (it has RNN, LSTM and GRU)`);
  const head = headOf(config);
  const P = paramViews(config, model.params);
  const G = gateCount(config);
  const initializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const node = (opType: string, input: readonly string[], output: readonly string[], attribute: AttributeProto[] = []): void => {
    nodes.push({ name: `${opType}_${nodes.length}`, opType, input: input.slice(), output: output.slice(), attribute });
  };
  const int64s = (name: string, values: readonly number[], dims?: readonly number[]): string => {
    initializers.push(int64Tensor(name, values, dims));
    return name;
  };
  const graph: OnnxGraph = {
    node: (opType, inputs, outputs, attributes = {}) => node(opType, inputs, outputs, Object.entries(attributes).map(([name, v]) => attr(name, v))),
    floats: (name, dims, values) => {
      initializers.push(floatTensor(name, dims.slice(), values));
      return name;
    },
    int64s,
  };

  // x_t, time-major as the recurrent operators read it (layout 0): the input's nodes (one-hot: F1's one-hot x_t)
  const graphInputs = input.onnx.build(graph, config, P.input, "x_0");

  const states = cell.stateNames;
  const slicing = { axes: int64s("axis_0", [0]), squeeze: int64s("axis_1", [1]) };
  const finals: string[][] = states.map(() => []);
  for (let k = 0; k < L; k++) {
    const { Wi, Wh, bih, bhh } = P.layers[k];
    const inSize = k === 0 ? input.width(config) : H;
    // W, R, B: PyTorch's row blocks in ONNX's gate order, with ONNX's leading num_directions = 1
    initializers.push(floatTensor(`W_${k}`, [1, G * H, inSize], gateBlocks(Wi, cell.gateNames, onnx.gateOrder, H * inSize)));
    initializers.push(floatTensor(`R_${k}`, [1, G * H, H], gateBlocks(Wh, cell.gateNames, onnx.gateOrder, H * H)));
    if (bih !== undefined && bhh !== undefined) {
      const B = new Float32Array(2 * G * H);
      B.set(gateBlocks(bih, cell.gateNames, onnx.gateOrder, H), 0); // Wb: b_ih
      B.set(gateBlocks(bhh, cell.gateNames, onnx.gateOrder, H), G * H); // Rb: b_hh
      initializers.push(floatTensor(`B_${k}`, [1, 2 * G * H], B));
    }
    // layer k's initial state: rows k of h0 (and c0), [1, batch, H]
    const starts = int64s(`layer_${k}`, [k]);
    const ends = int64s(`layer_${k + 1}_end`, [k + 1]);
    const initial = states.map((s) => {
      node("Slice", [`${s}0`, starts, ends, slicing.axes], [`${s}0_${k}`]);
      return `${s}0_${k}`;
    });
    const final = states.map((s) => `${s}n_${k}`);
    final.forEach((name, i) => finals[i].push(name));
    const attributes = Object.entries(onnx.attributes(config.nonlinearity)).map(([name, value]) => attr(name, value));
    node(
      onnx.op,
      [`x_${k}`, `W_${k}`, `R_${k}`, bias ? `B_${k}` : "", "", ...initial],
      [`y_${k}`, ...final],
      [intAttr("hidden_size", H), ...attributes],
    );
    // Y is [seq, num_directions = 1, batch, H]: the next layer's input without the direction axis
    node("Squeeze", [`y_${k}`, slicing.squeeze], [`x_${k + 1}`]);
  }
  states.forEach((s, i) => node("Concat", finals[i], [`${s}n`], [intAttr("axis", 0)]));

  // the head's nodes on the top layer's outputs (softmax: ȳ_t = W_o h_t + b_o, F3)
  const graphOutputs = head.onnx.build(graph, config, P.head, `x_${L}`);

  const stateInfo = (name: string): ValueInfoProto => valueInfo(name, FLOAT, [L, "batch", H]);
  const metadataProps = [{ key: "bptt.config", value: modelConfigJson(config) }];
  if (model.vocab !== undefined) metadataProps.push({ key: "bptt.vocab", value: JSON.stringify(model.vocab) });
  const content = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "bptt",
    producerVersion: VERSION,
    docString: `bptt ${cell.title} ${head.onnx.model}: ${L} layer${L > 1 ? "s" : ""} of ${H}, vocabulary of ${config.vocabSize}. ` +
      `Inputs ${input.onnx.doc} and ${states.map((s) => `${s}0`).join(", ")} [layers, batch, hidden]; ` +
      `outputs ${head.onnx.doc} and ${states.map((s) => `${s}n`).join(", ")}.`,
    metadataProps,
    graph: {
      name: `bptt_${cell.name}`,
      node: nodes,
      initializer: initializers,
      input: [...graphInputs.map(graphValue), ...states.map((s) => stateInfo(`${s}0`))],
      output: [...graphOutputs.map(graphValue), ...states.map((s) => stateInfo(`${s}n`))],
    },
  };
  const type = onnxModelType();
  return type.encode(type.fromObject(content)).finish();
}

/** onnx.ModelProto, built once from the descriptor. */
function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType("onnx.ModelProto");
  return modelType;
}

/**
 * A (G·rows, …) tensor's row blocks, reordered.
 * @param flat the tensor, G blocks of `blockSize` values in `from` order
 * @param from block names in the tensor's order (the cell's gateNames, PyTorch's)
 * @param to block names in the order wanted (ONNX's)
 * @param blockSize values per block
 */
function gateBlocks(flat: Float32Array, from: readonly string[], to: readonly string[], blockSize: number): Float32Array {
  const out = new Float32Array(flat.length);
  to.forEach((gate, j) => {
    const i = from.indexOf(gate);
    if (i < 0) throw new ConfigError(`ONNX gate ${gate} is not one of the cell's gates ${from.join(", ")}`);
    out.set(flat.subarray(i * blockSize, (i + 1) * blockSize), j * blockSize);
  });
  return out;
}

/** A graph input or output a part declared, as a ValueInfoProto. */
function graphValue(v: OnnxValue): ValueInfoProto {
  return valueInfo(v.name, v.type === "int64" ? INT64 : FLOAT, v.dims);
}

/** An attribute by the type of its value: an int, ints, or strings. */
function attr(name: string, value: OnnxAttribute): AttributeProto {
  if (typeof value === "number") return intAttr(name, value);
  if (value.every((v): v is number => typeof v === "number")) return intsAttr(name, value.slice());
  return stringsAttr(name, value.filter((v): v is string => typeof v === "string"));
}

function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  // raw_data is little-endian by the spec, whatever the machine's order
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): TensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims: dims.slice(), dataType: INT64, rawData: bytes };
}

function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): ValueInfoProto {
  const dim = dims.map((d): Dimension => (typeof d === "number" ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

function intAttr(name: string, i: number): AttributeProto {
  return { name, type: ATTR_INT, i };
}

function intsAttr(name: string, ints: number[]): AttributeProto {
  return { name, type: ATTR_INTS, ints };
}

function stringsAttr(name: string, values: readonly string[]): AttributeProto {
  return { name, type: ATTR_STRINGS, strings: values.map((v) => new TextEncoder().encode(v)) };
}
