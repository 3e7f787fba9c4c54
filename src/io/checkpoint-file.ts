/**
 * Checkpoint files on disk (Node only): atomic writes, size-checked reads. The format itself,
 * usable in a browser, is in checkpoint.ts.
 */
import { readFileChecked, writeFileAtomic } from "./atomic.ts";
import { checkpointFromBytes, checkpointToParts, type Checkpoint } from "./checkpoint.ts";

/**
 * Write a checkpoint atomically: a crash mid-write leaves the previous file intact.
 * The file is written as parts (the header, then views of the tensors), never assembled in one
 * buffer, so saving adds only the header to the memory the checkpoint already uses.
 * @param path file to create or replace
 * @param ckpt the checkpoint
 * @throws as checkpointToBytes (before the file is touched), and FileWriteError (a CheckpointError with the
 *   path, the system's code such as ENOSPC, and the problem in words) when the file cannot be written
 */
export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  writeFileAtomic(path, checkpointToParts(ckpt));
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
