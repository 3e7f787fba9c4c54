/**
 * What every registered cell's spec must hold for the rest of bptt to read it (src/cells/types.ts):
 * the names are distinct, each state has its own checkpoint tensor, the forget gate is one of its
 * gates, its ONNX gate order (if it has an operator) is its gates in another order, and its view
 * names its gates and states. test/fourth-cell.test.ts runs it for a fourth cell too.
 */
import { describe, expect, it } from "vitest";
import { CELL_NAMES, CELLS, cellOf } from "./index.ts";

describe("the registry", () => {
  it("names each cell once, by its own name", () => {
    expect(new Set(CELL_NAMES).size).toBe(CELL_NAMES.length);
    for (const name of CELL_NAMES) expect(CELLS[name].name).toBe(name);
  });

  it.each(CELL_NAMES)("%s: a checkpoint tensor per state, train.*, distinct; its forget gate, ONNX gate order and view agree with its gates and states", (name) => {
    const cell = cellOf(name);
    expect(cell.stateKeys).toHaveLength(cell.stateNames.length);
    expect(new Set(cell.stateKeys).size).toBe(cell.stateKeys.length);
    for (const key of cell.stateKeys) expect(key).toMatch(/^train\.[a-z]+$/);
    expect(new Set(cell.gateNames).size).toBe(cell.gateNames.length);
    if (cell.forgetGate !== undefined) expect(cell.gateNames).toContain(cell.forgetGate);
    if (cell.onnx !== undefined) expect([...cell.onnx.gateOrder].sort()).toEqual([...cell.gateNames].sort());
    expect(cell.view.states.map((s) => s.name).every((s) => cell.stateNames.includes(s))).toBe(true);
    const { saturation } = cell.view;
    if (saturation.kind === "gates") expect(saturation.gates.map((g) => g.gate)).toEqual(cell.gateNames);
    expect(cell.nonlinearities.length).toBeGreaterThan(0);
  });
});
