/**
 * ONNX export (`bptt export`): a model as a standard ONNX graph (opset 17, IR version 8) that any
 * ONNX runtime runs without bptt.
 *
 *   inputs    tokens  int64   [batch, seq]       token ids in [0, V)
 *             h0      float32 [layers, batch, H]  (and c0 for the LSTM: one input per state tensor)
 *   outputs   logits  float32 [batch, seq, V]    ȳ_t = W_o h_t + b_o (F3), before the softmax
 *             hn      float32 [layers, batch, H]  (and cn): the state after the last step
 *   metadata  bptt.config  the checkpoint's config JSON;  bptt.vocab  the JSON array of the V symbols
 *
 * `batch` and `seq` are dynamic: a caller runs a whole text at once, or one token at a time with
 * the state carried. The graph: tokens → Transpose to time-major [seq, batch] → OneHot (x_t, F1's
 * one-hot input) → per layer one RNN / LSTM / GRU node (the cell's `onnx` spec: operator, gate
 * order, attributes) with its initial state sliced from h0 (c0) → Transpose back → MatMul W_oᵀ
 * (+ Add b_o). A model without biases exports without B inputs and without the Add.
 *
 * The protobuf is encoded with protobufjs from ONNX's own onnx.proto (descriptor.ts); only the
 * graph's content is written here.
 */
import protobuf from "protobufjs/light.js";
import { cellOf } from "../../cells/index.ts";
import { ConfigError } from "../../errors.ts";
import type { LanguageModel } from "../../model/language-model.ts";
import { modelConfigJson, validateModelConfig } from "../../model/config.ts";
import { gateCount, paramViews } from "../../model/params.ts";
import { VERSION } from "../../version.ts";
import { ONNX_DESCRIPTOR } from "./descriptor.ts";

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
 * @throws ConfigError for an inconsistent model (parameters of the wrong length)
 */
export function modelToOnnx(model: LanguageModel): Uint8Array {
  const config = validateModelConfig(model.config, "cannot export model");
  const { layers: L, hiddenSize: H, vocabSize: V, bias } = config;
  const cell = cellOf(config.cell);
  const P = paramViews(config, model.params);
  const G = gateCount(config);
  const initializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const node = (opType: string, input: string[], output: string[], attribute: AttributeProto[] = []): void => {
    nodes.push({ name: `${opType}_${nodes.length}`, opType, input, output, attribute });
  };
  const int64s = (name: string, values: number[]): string => {
    initializers.push(int64Tensor(name, values));
    return name;
  };

  // x_t: the one-hot input of F1, time-major as the recurrent operators read it (layout 0)
  node("Transpose", ["tokens"], ["tokens_tb"], [intsAttr("perm", [1, 0])]);
  initializers.push(int64Tensor("onehot_depth", [V], []), floatTensor("onehot_values", [2], new Float32Array([0, 1])));
  node("OneHot", ["tokens_tb", "onehot_depth", "onehot_values"], ["x_0"], [intAttr("axis", -1)]);

  const states = cell.stateNames;
  const slicing = { axes: int64s("axis_0", [0]), squeeze: int64s("axis_1", [1]) };
  const finals: string[][] = states.map(() => []);
  for (let k = 0; k < L; k++) {
    const { Wi, Wh, bih, bhh } = P.layers[k];
    const inSize = k === 0 ? V : H;
    // W, R, B: PyTorch's row blocks in ONNX's gate order, with ONNX's leading num_directions = 1
    initializers.push(floatTensor(`W_${k}`, [1, G * H, inSize], gateBlocks(Wi, cell.gateNames, cell.onnx.gateOrder, H * inSize)));
    initializers.push(floatTensor(`R_${k}`, [1, G * H, H], gateBlocks(Wh, cell.gateNames, cell.onnx.gateOrder, H * H)));
    if (bih !== undefined && bhh !== undefined) {
      const B = new Float32Array(2 * G * H);
      B.set(gateBlocks(bih, cell.gateNames, cell.onnx.gateOrder, H), 0); // Wb: b_ih
      B.set(gateBlocks(bhh, cell.gateNames, cell.onnx.gateOrder, H), G * H); // Rb: b_hh
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
    const attributes = Object.entries(cell.onnx.attributes(config.nonlinearity)).map(([name, value]) =>
      typeof value === "number" ? intAttr(name, value) : stringsAttr(name, value),
    );
    node(
      cell.onnx.op,
      [`x_${k}`, `W_${k}`, `R_${k}`, bias ? `B_${k}` : "", "", ...initial],
      [`y_${k}`, ...final],
      [intAttr("hidden_size", H), ...attributes],
    );
    // Y is [seq, num_directions = 1, batch, H]: the next layer's input without the direction axis
    node("Squeeze", [`y_${k}`, slicing.squeeze], [`x_${k + 1}`]);
  }
  states.forEach((s, i) => node("Concat", finals[i], [`${s}n`], [intAttr("axis", 0)]));

  // ȳ_t = W_o h_t + b_o (F3), batch-major again: [batch, seq, H] · W_oᵀ [H, V]
  node("Transpose", [`x_${L}`], ["h_bt"], [intsAttr("perm", [1, 0, 2])]);
  initializers.push(floatTensor("Wo_T", [H, V], transpose(P.Wo, V, H)));
  if (P.bo !== undefined) {
    initializers.push(floatTensor("bo", [V], P.bo));
    node("MatMul", ["h_bt", "Wo_T"], ["logits_nobias"]);
    node("Add", ["logits_nobias", "bo"], ["logits"]);
  } else {
    node("MatMul", ["h_bt", "Wo_T"], ["logits"]);
  }

  const stateInfo = (name: string): ValueInfoProto => valueInfo(name, FLOAT, [L, "batch", H]);
  const metadataProps = [{ key: "bptt.config", value: modelConfigJson(config) }];
  if (model.vocab !== undefined) metadataProps.push({ key: "bptt.vocab", value: JSON.stringify(model.vocab) });
  const content = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "bptt",
    producerVersion: VERSION,
    docString: `bptt ${cell.title} language model: ${L} layer${L > 1 ? "s" : ""} of ${H}, vocabulary of ${V}. ` +
      `Inputs tokens [batch, seq] and ${states.map((s) => `${s}0`).join(", ")} [layers, batch, hidden]; ` +
      `outputs logits [batch, seq, vocab] (before the softmax) and ${states.map((s) => `${s}n`).join(", ")}.`,
    metadataProps,
    graph: {
      name: `bptt_${cell.name}`,
      node: nodes,
      initializer: initializers,
      input: [valueInfo("tokens", INT64, ["batch", "seq"]), ...states.map((s) => stateInfo(`${s}0`))],
      output: [valueInfo("logits", FLOAT, ["batch", "seq", V]), ...states.map((s) => stateInfo(`${s}n`))],
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

/** The transpose of a row-major (rows, cols) matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

function floatTensor(name: string, dims: number[], values: Float32Array): TensorProto {
  // raw_data is little-endian by the spec, whatever the machine's order
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims, dataType: INT64, rawData: bytes };
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
