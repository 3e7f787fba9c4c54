/**
 * The registry of recurrent cells: adding a cell is one folder under src/cells/ and one line here.
 */
import { gruCell } from "./gru/index.ts";
import { lstmCell } from "./lstm/index.ts";
import { rnnCell } from "./rnn/index.ts";
import type { Cell } from "./types.ts";

/** The cells, one line each, in the order shown to users. */
const REGISTRY = [rnnCell, lstmCell, gruCell] as const;

/** The name of a registered cell. */
export type CellName = (typeof REGISTRY)[number]["name"];

/** Every cell by name, in the order shown to users. */
export const CELLS = Object.fromEntries(REGISTRY.map((cell): [CellName, Cell] => [cell.name, cell])) as Readonly<Record<CellName, Cell>>;

/** The cell names, in the order shown to users. */
export const CELL_NAMES: readonly CellName[] = REGISTRY.map((cell) => cell.name);

/**
 * @param name a cell name
 * @returns the cell
 */
export function cellOf(name: CellName): Cell {
  return CELLS[name];
}
