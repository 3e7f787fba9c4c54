/**
 * Checkpoint files on disk (Node only): atomic writes, size-checked reads. The format itself,
 * usable in a browser, is in checkpoint.ts.
 */
import { readFileChecked, writeFileAtomic } from "./atomic.ts";
import { checkpointFromBytes, checkpointToBytes, type Checkpoint } from "./checkpoint.ts";

/**
 * Write a checkpoint atomically: a crash mid-write leaves the previous file intact.
 * @param path file to create or replace
 * @param ckpt the checkpoint
 * @throws as checkpointToBytes, and CheckpointError when the file cannot be written
 */
export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  writeFileAtomic(path, checkpointToBytes(ckpt));
}

/**
 * Read and validate a checkpoint file.
 * @param path file to read
 * @returns the checkpoint
 * @throws CheckpointError for a missing, unreadable, malformed or inconsistent file
 */
export function loadCheckpoint(path: string): Checkpoint {
  return checkpointFromBytes(readFileChecked(path), path);
}
