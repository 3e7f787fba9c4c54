/**
 * readCorpusFile on generated files of 200 MB: memory stays at the ids plus bounded buffers (the
 * resident set, sampled after every chunk, grows by at most the ids + a few chunk sizes), the ids
 * are 1 byte a character for V ≤ 256 and 2 beyond, and the read speed is printed. And the
 * report of issue 13: a valid 600 MB text is too long for one string, which readTextFile now says
 * (it said "not UTF-8 text (first bad byte near offset -1)"), pointing to readCorpusFile.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS_CHUNK_BYTES, readCorpusFile, readTextFile } from "../../src/data/node-files.ts";
import type { Corpus } from "../../src/data/corpus.ts";
import { freeBytes, writeCorpus } from "./corpora.ts";

const MiB = 2 ** 20;
const SIZE = 200 * MiB;
/** Besides the ids: the read buffer and the per-code-point tables (histogram 8.9 MB, id map 4.5 MB) and some slack. */
const BUFFERS = 3 * CORPUS_CHUNK_BYTES + 16 * MiB;

const dir = mkdtempSync(join(tmpdir(), "bptt-big-corpus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const free = freeBytes(dir);
const enoughDisk = free !== undefined && free > 3 * SIZE + 512 * MiB;
if (!enoughDisk) console.warn(`SKIPPED: readCorpusFile memory tests need ${((2 * SIZE) / MiB).toFixed(0)} MiB free in ${dir}; df says ${free === undefined ? "nothing" : `${(free / MiB).toFixed(0)} MiB`}`);

/** Read with RSS sampled after every chunk. */
function measured(read: (onProgress: () => void) => Corpus): { corpus: Corpus; growth: number; seconds: number } {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const t0 = performance.now();
  const corpus = read(sample);
  const seconds = (performance.now() - t0) / 1000;
  sample();
  return { corpus, growth: peak - before, seconds };
}

describe.skipIf(!enoughDisk)("readCorpusFile on 200 MB", () => {
  for (const kind of ["latin", "cjk"] as const) {
    it(`${kind}: the resident set grows by the ids and bounded buffers, in two passes and in one`, () => {
      const path = join(dir, `${kind}.txt`);
      const { bytes, chars, vocabSize } = writeCorpus(path, SIZE, kind);
      try {
        const fresh = measured((onProgress) => readCorpusFile(path, { onProgress }));
        const { ids, symbols } = fresh.corpus;
        expect(ids).toBeInstanceOf(kind === "latin" ? Uint8Array : Uint16Array);
        expect(ids.length).toBe(chars);
        expect(symbols.length).toBe(vocabSize);
        const resumed = measured((onProgress) => readCorpusFile(path, { symbols, onProgress }));
        expect(resumed.corpus.ids.length).toBe(ids.length);
        expect(Buffer.from(resumed.corpus.ids.buffer, 0, ids.byteLength).equals(Buffer.from(ids.buffer, 0, ids.byteLength))).toBe(true);
        for (const [what, m] of [["two passes", fresh], ["one pass", resumed]] as const) {
          console.log(
            `${kind} ${what}: ${(bytes / 1e6).toFixed(0)} MB, ${ids.length} characters, V = ${symbols.length}: ` +
              `${m.seconds.toFixed(2)} s (${(bytes / 1e6 / m.seconds).toFixed(0)} MB/s of file), ` +
              `RSS +${(m.growth / MiB).toFixed(0)} MiB for ${(ids.byteLength / MiB).toFixed(0)} MiB of ids`,
          );
          expect(m.growth, what).toBeLessThan(ids.byteLength + BUFFERS);
        }
      } finally {
        rmSync(path, { force: true });
      }
    });
  }
});

describe.skipIf(!enoughDisk)("a 600 MB text", () => {
  it("is too long for readTextFile, which says so and names readCorpusFile; readCorpusFile reads it", () => {
    const path = join(dir, "600.txt");
    const { chars } = writeCorpus(path, 600e6, "latin");
    try {
      expect(() => readTextFile(path)).toThrowError(/600\.txt \(\d+ bytes\) is too long to hold as one string .*readCorpusFile\(path\)/);
      expect(readCorpusFile(path).ids.length).toBe(chars);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
