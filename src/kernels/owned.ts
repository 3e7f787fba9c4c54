/**
 * Kernel memory that frees itself: WebAssembly memory is not garbage-collected, so objects that
 * allocate from `Kernels.allocate` (LmEngine, ThreadedLmEngine, Optimizer) track their blocks here.
 * `dispose()` frees them at once; a FinalizationRegistry frees them after the owner is collected,
 * so that short-lived objects do not leak.
 */
import type { Kernels } from "./types.ts";

/**
 * The kernel memory an object holds (an engine's buffers, an optimizer's state), kept apart from
 * the object so that it can be freed after the object is garbage-collected.
 */
export interface OwnedMemory {
  readonly kernels: Kernels;
  /** Blocks from kernels.allocate, freed together. */
  readonly blocks: Set<Float32Array>;
  /** Called after the blocks are freed (e.g. to end worker threads the engine started). */
  release?: () => void;
}

/**
 * Start tracking an owner's kernel memory: freed by `freeOwned`, or after the owner is garbage-collected.
 * @param owner the object whose memory it is
 * @param kernels whose memory the blocks come from
 * @returns the (empty) set of blocks to add allocations to
 */
export function ownKernelMemory(owner: object, kernels: Kernels): OwnedMemory {
  const owned: OwnedMemory = { kernels, blocks: new Set() };
  ownedMemoryRegistry().register(owner, owned, owned);
  return owned;
}

/**
 * Allocate a tracked block.
 * @param owned what `ownKernelMemory` returned
 * @param length number of float32 values
 * @returns a zeroed array from `owned.kernels.allocate`
 */
export function allocateOwned(owned: OwnedMemory, length: number): Float32Array {
  const a = owned.kernels.allocate(length);
  owned.blocks.add(a);
  return a;
}

/** Kernel memory an owner keeps across shapes: one tracked block, grown on demand (`reuseOwned`). */
export interface ReusableBlock {
  block?: Float32Array | undefined;
}

/**
 * `length` floats from a block the owner keeps across shapes, reused when it is large enough:
 * shapes that shrink (an evaluation's shorter last chunk, a batch of one) carve their arrays from
 * the memory the largest shape took instead of freeing and allocating, so switching between
 * training and evaluation shapes neither churns nor fragments the kernel heap.
 * @param owned what `ownKernelMemory` returned
 * @param slot the block held so far; replaced by a larger one when needed (the old one is freed
 *   first, and `slot` never points at freed memory, even when the allocation throws)
 * @param length floats needed
 * @returns a view of the block's first `length` floats: old contents when the block was large
 *   enough, zeros when it is new
 */
export function reuseOwned(owned: OwnedMemory, slot: ReusableBlock, length: number): Float32Array {
  const held = slot.block;
  if (held !== undefined && held.length >= length) return held.subarray(0, length);
  slot.block = undefined;
  if (held !== undefined) releaseOwned(owned, held);
  slot.block = allocateOwned(owned, length);
  return slot.block;
}

/**
 * Free one tracked block.
 * @param owned what `ownKernelMemory` returned
 * @param array a block from `allocateOwned`
 */
export function releaseOwned(owned: OwnedMemory, array: Float32Array): void {
  owned.blocks.delete(array);
  owned.kernels.free(array);
}

/**
 * Free every tracked block (and run `release`); the tracking stays usable for new blocks.
 * @param owned what `ownKernelMemory` returned
 */
export function freeOwned(owned: OwnedMemory): void {
  for (const a of owned.blocks) owned.kernels.free(a);
  owned.blocks.clear();
  owned.release?.();
}

let registry: FinalizationRegistry<OwnedMemory> | undefined;

/** Created on first use (nothing in src/ runs code at import). */
function ownedMemoryRegistry(): FinalizationRegistry<OwnedMemory> {
  return (registry ??= new FinalizationRegistry(freeOwned));
}
