/**
 * Reading text files in Node. The only file in src/data that touches `node:fs`; the browser
 * playground passes the bytes of an uploaded file to `decodeText` instead.
 */
import { readFileSync, statSync } from "node:fs";
import { DataError } from "../errors.ts";
import { decodeText } from "./text.ts";

/**
 * Read a UTF-8 text file.
 * @param path the file's path
 * @returns the text, without a leading byte-order mark
 * @throws DataError naming the path when the file is missing, a directory or unreadable, or when `decodeText` rejects it
 */
export function readTextFile(path: string): string {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) {
      throw new DataError(`${path} is a directory; expected a text file; pass the path of a file inside it`);
    }
    bytes = readFileSync(path);
  } catch (e: unknown) {
    if (e instanceof DataError) throw e;
    const code = errorCode(e);
    if (code === "ENOENT") throw new DataError(`${path} does not exist; expected a text file; check the path`);
    if (code === "EACCES" || code === "EPERM") {
      throw new DataError(`${path} cannot be read (permission denied); expected a readable text file; check its permissions`);
    }
    if (code === "EISDIR") throw new DataError(`${path} is a directory; expected a text file; pass the path of a file inside it`);
    const detail = e instanceof Error ? e.message : String(e);
    throw new DataError(`${path} cannot be read (${detail}); expected a readable text file`);
  }
  return decodeText(bytes, path);
}

function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null || !("code" in e)) return undefined;
  const code: unknown = e.code;
  return typeof code === "string" ? code : undefined;
}
