/**
 * The registry of recurrent cells: adding a cell is one folder under src/cells/ and one line here.
 */
import { gruCell } from "./gru/index.ts";
import { lstmCell } from "./lstm/index.ts";
import { rnnCell } from "./rnn/index.ts";
import type { Cell, CellName } from "./types.ts";

/** Every cell by name, in the order shown to users (the first is the default). */
export const CELLS: Readonly<Record<CellName, Cell>> = { rnn: rnnCell, lstm: lstmCell, gru: gruCell };

/** The cell names, in the order shown to users; "rnn" is the default. */
export const CELL_NAMES = Object.keys(CELLS) as readonly CellName[];

/**
 * @param name a cell name
 * @returns the cell
 */
export function cellOf(name: CellName): Cell {
  return CELLS[name];
}
