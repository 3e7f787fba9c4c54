/**
 * The registry of model heads (src/heads/types.ts): adding a head is one folder under
 * src/heads/ and one line here.
 */
import { softmaxHead } from "./softmax/index.ts";
import type { ModelConfig } from "../model/config.ts";
import type { HeadUnit } from "./types.ts";

/** The heads, one line each, the default first. */
const REGISTRY = [softmaxHead] as const;

/** The name of a registered head. */
export type HeadName = (typeof REGISTRY)[number]["name"];

/** The head names, the default first. */
export const HEAD_NAMES: readonly HeadName[] = REGISTRY.map((head) => head.name);

/** The head of a config that names none: today's models, whose configs have no `head` key. */
export const DEFAULT_HEAD: HeadName = REGISTRY[0].name;

/** Every head by name. */
export const HEADS = Object.fromEntries(REGISTRY.map((head): [HeadName, HeadUnit] => [head.name, head])) as Readonly<Record<HeadName, HeadUnit>>;

/**
 * @param config a model config (its `head`: absent for the default)
 * @returns the config's head
 */
export function headOf(config: ModelConfig): HeadUnit {
  return HEADS[config.head ?? DEFAULT_HEAD];
}
