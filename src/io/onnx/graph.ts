/**
 * What a part of the model writes into the ONNX graph that src/io/onnx/export.ts builds: nodes
 * and initializers by name. The input and the head (src/inputs/, src/heads/) add their nodes
 * through it; export.ts encodes them, and adds the cells' operators between them.
 */

/** An operator attribute: an int, ints or strings (onnx.proto's AttributeProto INT, INTS, STRINGS). */
export type OnnxAttribute = number | readonly number[] | readonly string[];

/** The graph being built. Names are the graph's value names; nodes are kept in the order added. */
export interface OnnxGraph {
  /**
   * Add a node.
   * @param opType the operator, e.g. "MatMul"
   * @param input its inputs' names ("" for an optional input left out)
   * @param output its outputs' names
   * @param attributes its attributes by name
   */
  node(opType: string, input: readonly string[], output: readonly string[], attributes?: Readonly<Record<string, OnnxAttribute>>): void;
  /**
   * Add a float32 initializer.
   * @returns its name
   */
  floats(name: string, dims: readonly number[], values: Float32Array): string;
  /**
   * Add an int64 initializer.
   * @param dims its shape; default [values.length]
   * @returns its name
   */
  int64s(name: string, values: readonly number[], dims?: readonly number[]): string;
}

/** A graph input or output: its name, element type and shape (numbers are fixed sizes, strings dynamic axes). */
export interface OnnxValue {
  readonly name: string;
  readonly type: "float32" | "int64";
  readonly dims: readonly (number | string)[];
}
