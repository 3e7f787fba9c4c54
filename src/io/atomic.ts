/**
 * Files on disk (Node only; `safetensors.ts` and the byte-level checkpoint functions stay
 * free of the file system so the browser can use them).
 *
 * Reading checks the size before allocating. Writing is atomic: the bytes go to a temporary
 * file in the same directory, are flushed to disk, and the temporary file is renamed over the
 * target, so a crash or a full disk mid-write never destroys the previous file. A process killed
 * mid-write (SIGKILL, out of memory) cannot remove its temporary file; the next write of the same
 * target does, so repeated kills of a large model do not fill the disk.
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
  readdirSync,
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

/** A file could not be written (writeFileAtomic); the previous content of `path`, if any, is untouched. */
export class FileWriteError extends CheckpointError {
  /**
   * @param path the file that was to be written
   * @param code the system error code (ENOSPC, EACCES...), when there is one
   * @param problem what went wrong, without the path, e.g. "the disk is full (ENOSPC)"
   * @param message the whole message: the path, the problem and the next step
   */
  constructor(readonly path: string, readonly code: string | undefined, readonly problem: string, message: string) {
    super(message);
  }
}

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
 * Before writing, it removes the temporary files of `path` that writes killed mid-way left
 * behind (see `removeStaleTemps`), so that their space is free for this one.
 * @param path file to create or replace
 * @param data the new content: one array, or parts whose concatenation is the content
 * @throws FileWriteError naming the file and the system error
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
  removeStaleTemps(dir, basename(target));
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

/**
 * Remove the temporary files `writeFileAtomic` made for `dir/name` in processes that no longer
 * run: a SIGKILL (or a power loss) mid-write leaves `.<name>.<pid>.<12 hex>.tmp` behind, the size
 * of a whole checkpoint. A file whose process still runs (or may: EPERM, or this process itself)
 * is a write in progress and is never touched, nor is any other name. Best effort: a file that
 * cannot be listed or removed stays. The process id is this machine's; a directory shared with
 * another machine or PID namespace that writes the same file at the same time is not supported.
 * @param dir the target's directory
 * @param name the target's file name
 * @returns the names removed
 */
export function removeStaleTemps(dir: string, name: string): string[] {
  const prefix = `.${name}.`;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return []; // the write that follows reports the directory's problem
  }
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || processMayRun(pid)) continue;
    try {
      unlinkSync(join(dir, entry));
      removed.push(entry);
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
}

/** Whether process `pid` may be running (this one does): signal 0 checks without sending anything; only ESRCH says it is gone. */
function processMayRun(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !(typeof e === "object" && e !== null && "code" in e && e.code === "ESRCH");
  }
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

/** Turn a file-system error into a CheckpointError (a FileWriteError for writes) with a next step; pass CheckpointErrors through. */
function fsError(e: unknown, path: string, op: "read" | "write"): CheckpointError {
  if (e instanceof CheckpointError) return e;
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
  const detail = e instanceof Error ? e.message : String(e);
  if (op === "read") {
    switch (code) {
      case "ENOENT":
        return new CheckpointError(`${path}: no such file; expected an existing checkpoint file. Check the path`);
      case "EISDIR":
        return new CheckpointError(`${path}: is a directory; expected a file path. Choose a file name such as ${join(path, "model.safetensors")}`);
      case "EACCES":
      case "EPERM":
      case "EROFS":
        return new CheckpointError(`${path}: permission denied to read (${code}); expected a readable file`);
      default:
        return new CheckpointError(`${path}: cannot read: ${detail}`);
    }
  }
  const fail = (problem: string, message: string): FileWriteError => new FileWriteError(path, code, problem, message);
  switch (code) {
    case "ENOENT":
      return fail("the directory does not exist", `${path}: cannot write, the directory does not exist; expected an existing directory. Create it first`);
    case "EISDIR":
      return fail("it is a directory", `${path}: is a directory; expected a file path. Choose a file name such as ${join(path, "model.safetensors")}`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return fail(`permission denied (${code})`, `${path}: permission denied to write (${code}); expected a writable directory`);
    case "ENOSPC":
    case "EDQUOT":
      return fail(`the disk is full (${code})`, `${path}: cannot write, the disk is full (${code}); the previous file is untouched. Free some space and save again`);
    default:
      return fail(detail, `${path}: cannot write: ${detail}; the previous file is untouched`);
  }
}
