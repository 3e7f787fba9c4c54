/**
 * The registry of model inputs (src/inputs/types.ts): adding an input is one folder under
 * src/inputs/ and one line here.
 */
import { onehotInput } from "./onehot/index.ts";
import type { ModelConfig } from "../model/config.ts";
import type { InputUnit } from "./types.ts";

/** The inputs, one line each, the default first. */
const REGISTRY = [onehotInput] as const;

/** The name of a registered input. */
export type InputName = (typeof REGISTRY)[number]["name"];

/** The input names, the default first. */
export const INPUT_NAMES: readonly InputName[] = REGISTRY.map((input) => input.name);

/** The input of a config that names none: today's models, whose configs have no `input` key. */
export const DEFAULT_INPUT: InputName = REGISTRY[0].name;

/** Every input by name. */
export const INPUTS = Object.fromEntries(REGISTRY.map((input): [InputName, InputUnit] => [input.name, input])) as Readonly<Record<InputName, InputUnit>>;

/**
 * @param config a model config (its `input`: absent for the default)
 * @returns the config's input
 */
export function inputOf(config: ModelConfig): InputUnit {
  return INPUTS[config.input ?? DEFAULT_INPUT];
}
