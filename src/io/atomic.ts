/**
 * Files on disk (Node only; `safetensors.ts` and the byte-level checkpoint functions stay
 * free of the file system so the browser can use them).
 *
 * Reading checks the size before allocating. Writing is atomic: the bytes go to a temporary
 * file in the same directory, are flushed to disk, and the temporary file is renamed over the
 * target, so a crash or a full disk mid-write never destroys the previous file.
 */
import { constants as bufferConstants } from "node:buffer";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { CheckpointError } from "../errors.ts";

/** Largest file `readFileChecked` accepts by default: 8 GiB. */
export const MAX_FILE_BYTES = 8 * 2 ** 30;

/** Bytes moved per read or write call (Node refuses single calls above 2 GiB). */
const CHUNK = 2 ** 30;

/** Options of `readFileChecked`. */
export interface ReadFileOptions {
  /** Largest file accepted, in bytes. Default MAX_FILE_BYTES (8 GiB); Node 20 cannot hold more than 4 GiB in one array anyway. */
  readonly maxBytes?: number;
}

/**
 * Read a whole regular file into memory after checking its size.
 * @param path file to read
 * @param options size limit
 * @returns the file's bytes (a fresh array owned by the caller)
 * @throws CheckpointError for a missing file, a directory or other non-regular file, a file over the limit, or a read error
 */
export function readFileChecked(path: string, options: ReadFileOptions = {}): Uint8Array {
  const maxBytes = Math.min(options.maxBytes ?? MAX_FILE_BYTES, bufferConstants.MAX_LENGTH);
  // stat before open: opening a FIFO for reading would block until someone writes to it.
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      throw new CheckpointError(`${path}: is a directory; expected a checkpoint file (e.g. ${join(path, "model.safetensors")})`);
    }
    if (!st.isFile()) throw new CheckpointError(`${path}: is not a regular file; expected a checkpoint file`);
    size = st.size;
  } catch (e) {
    throw fsError(e, path, "read");
  }
  if (size > maxBytes) {
    throw new CheckpointError(`${path}: file is ${size} bytes; expected at most ${maxBytes}. Is this the right file?`);
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw fsError(e, path, "read");
  }
  try {
    // The file may have changed since stat: trust the open descriptor.
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > maxBytes) {
      throw new CheckpointError(`${path}: changed while being opened (now ${st.size} bytes); expected a stable regular file of at most ${maxBytes} bytes`);
    }
    let out: Uint8Array;
    try {
      out = new Uint8Array(st.size);
    } catch {
      throw new CheckpointError(`${path}: cannot allocate ${st.size} bytes to read it; expected a file that fits in memory`);
    }
    let at = 0;
    while (at < out.length) {
      const got = readSync(fd, out, at, Math.min(out.length - at, CHUNK), null);
      if (got === 0) break; // shrank meanwhile: the parser reports the truncation
      at += got;
    }
    return at === out.length ? out : out.subarray(0, at);
  } catch (e) {
    throw fsError(e, path, "read");
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace a file atomically: write a uniquely named temporary file in the same directory,
 * fsync it, and rename it over `path`. On any failure the temporary file is removed and the
 * previous content of `path`, if any, is left untouched. A symbolic link is followed (its
 * target is replaced); the permissions of an existing target are kept.
 * The content may be given as parts, written one after the other: a caller can then pass a
 * header and views of arrays it already holds (see `safetensorsParts`) instead of copying
 * everything into one whole-file buffer first.
 * @param path file to create or replace
 * @param data the new content: one array, or parts whose concatenation is the content
 * @throws CheckpointError naming the file and the system error
 */
export function writeFileAtomic(path: string, data: Uint8Array | readonly Uint8Array[]): void {
  const parts = ArrayBuffer.isView(data) ? [data] : data;
  let target = path;
  try {
    if (lstatSync(path).isSymbolicLink()) target = realpathSync(path);
  } catch {
    // no such file yet (or a dangling link): write `path` itself
  }
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, "wx", 0o666); // exclusive: never reuse someone else's file
    created = true;
    try {
      fchmodSync(fd, statSync(target).mode & 0o7777);
    } catch {
      // new file: keep the default mode
    }
    for (const part of parts) {
      let at = 0;
      while (at < part.length) {
        const wrote = writeSync(fd, part, at, Math.min(part.length - at, CHUNK));
        if (wrote <= 0) throw new Error(`write returned ${wrote}`);
        at += wrote;
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
    created = false;
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the first error is the one to report
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more can be done; the message names the file
      }
    }
    throw fsError(e, path, "write");
  }
  syncDirectory(dir);
}

/** Make the rename itself durable. Best effort: some platforms cannot fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // not supported here (e.g. Windows); the data itself is already on disk
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Turn a file-system error into a CheckpointError with a next step; pass CheckpointErrors through. */
function fsError(e: unknown, path: string, op: "read" | "write"): CheckpointError {
  if (e instanceof CheckpointError) return e;
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  switch (code) {
    case "ENOENT":
      return op === "read"
        ? new CheckpointError(`${path}: no such file; expected an existing checkpoint file. Check the path`)
        : new CheckpointError(`${path}: cannot write, the directory does not exist; expected an existing directory. Create it first`);
    case "EISDIR":
      return new CheckpointError(`${path}: is a directory; expected a file path. Choose a file name such as ${join(path, "model.safetensors")}`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new CheckpointError(`${path}: permission denied to ${op} (${code}); expected a ${op === "read" ? "readable file" : "writable directory"}`);
    case "ENOSPC":
    case "EDQUOT":
      return new CheckpointError(`${path}: cannot write, the disk is full (${code}); the previous file is untouched. Free some space and save again`);
    default:
      return new CheckpointError(`${path}: cannot ${op}: ${detail}${op === "write" ? "; the previous file is untouched" : ""}`);
  }
}
