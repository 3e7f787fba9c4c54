/**
 * The allocator behind the WebAssembly kernels' `allocate`/`free`: first-fit over a free list of
 * 64-byte-aligned blocks in the module's memory, with the memory grown on demand.
 *
 * The rule that keeps views valid. Growing a WebAssembly memory normally *detaches* its old
 * ArrayBuffer: every Float32Array made before `memory.grow` silently becomes length 0. Code that
 * kept views across an allocation (an engine's buffers, a caller's parameters) would then break
 * whenever anyone else allocated. So the memory is *shared* (backed by a SharedArrayBuffer):
 * growing a shared memory never detaches anything; the old SharedArrayBuffer keeps its length and
 * still aliases the same bytes, and `memory.buffer` returns a new, longer one. A view therefore
 * stays valid, at the same address, until it is freed, whatever is allocated after it.
 * Consequences handled here: views of one memory may sit on different SharedArrayBuffer objects
 * (one per size the memory had when they were made), so residency is checked against every buffer
 * object the memory has returned. Where shared memory is not available (a browser page that is not
 * cross-origin isolated), the WebAssembly kernels are not created and the portable ones run.
 */
import { ShapeError } from "../errors.ts";

const PAGE = 65536;
/** Alignment and granularity of blocks, in bytes: one cache line, a multiple of the 16-byte v128. */
export const BLOCK_ALIGN = 64;
/** Pages of a wasm32 memory (4 GiB): the maximum the module declares. */
export const MAX_PAGES = 65536;

interface Block {
  offset: number;
  size: number;
}

/** A first-fit allocator of float32 arrays inside one shared WebAssembly memory. */
export class WasmHeap {
  /** The memory the arrays live in. */
  readonly memory: WebAssembly.Memory;
  // Every ArrayBuffer object `memory.buffer` has returned: views made at different sizes sit on different objects.
  private readonly buffers = new Set<ArrayBufferLike>();
  // First byte never handed out; everything in [base, top) is either live or in `freeBlocks`.
  private top: number;
  // Free blocks below `top`, sorted by offset, never adjacent (coalesced).
  private readonly freeBlocks: Block[] = [];
  // Live blocks: byte offset → size in bytes.
  private readonly live = new Map<number, number>();

  /**
   * @param memory a shared WebAssembly memory
   * @param base first byte the heap may use (after the module's static data)
   */
  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.top = alignUp(base, BLOCK_ALIGN);
    this.buffers.add(memory.buffer);
  }

  /** Bytes from the start of the memory to the end of the highest block in use. */
  get highWater(): number {
    return this.top;
  }

  /** Bytes in live blocks. */
  get liveBytes(): number {
    let n = 0;
    for (const size of this.live.values()) n += size;
    return n;
  }

  /**
   * Reserve a block of at least `bytes` bytes, growing the memory if needed.
   * @param bytes size in bytes
   * @returns the block's byte offset, a multiple of 64
   * @throws ShapeError when the memory cannot grow that far (wasm32: 4 GiB)
   */
  allocateBytes(bytes: number): number {
    const size = Math.max(BLOCK_ALIGN, alignUp(bytes, BLOCK_ALIGN));
    for (let i = 0; i < this.freeBlocks.length; i++) {
      const b = this.freeBlocks[i];
      if (b.size < size) continue;
      const offset = b.offset;
      if (b.size === size) this.freeBlocks.splice(i, 1);
      else {
        b.offset += size;
        b.size -= size;
      }
      this.live.set(offset, size);
      return offset;
    }
    const offset = this.top;
    this.ensure(offset + size);
    this.top = offset + size;
    this.live.set(offset, size);
    return offset;
  }

  /**
   * A zeroed float32 array in the memory.
   * @param length number of values
   * @returns a view of exactly `length` values, valid until freed
   */
  allocate(length: number): Float32Array {
    if (!(Number.isSafeInteger(length) && length >= 0)) {
      throw new ShapeError(`allocate: expected a length that is an integer ≥ 0; received ${String(length)}`);
    }
    const offset = this.allocateBytes(length * 4);
    const view = new Float32Array(this.memory.buffer, offset, length);
    this.buffers.add(view.buffer);
    view.fill(0); // a reused block holds old values
    return view;
  }

  /**
   * Give a block back. Views that did not come from `allocate` (or were already freed) are ignored.
   * @param view an array returned by `allocate`
   */
  free(view: ArrayBufferView): void {
    if (!this.isResident(view)) return;
    const offset = view.byteOffset;
    const size = this.live.get(offset);
    if (size === undefined) return;
    this.live.delete(offset);
    // insert sorted, then merge with the neighbours
    let i = 0;
    while (i < this.freeBlocks.length && this.freeBlocks[i].offset < offset) i++;
    this.freeBlocks.splice(i, 0, { offset, size });
    if (i + 1 < this.freeBlocks.length && offset + size === this.freeBlocks[i + 1].offset) {
      this.freeBlocks[i].size += this.freeBlocks[i + 1].size;
      this.freeBlocks.splice(i + 1, 1);
    }
    if (i > 0 && this.freeBlocks[i - 1].offset + this.freeBlocks[i - 1].size === offset) {
      this.freeBlocks[i - 1].size += this.freeBlocks[i].size;
      this.freeBlocks.splice(i, 1);
      i--;
    }
    // a free block at the top gives its space back to the bump pointer
    const last = this.freeBlocks[this.freeBlocks.length - 1];
    if (last !== undefined && last.offset + last.size === this.top) {
      this.top = last.offset;
      this.freeBlocks.pop();
    }
  }

  /**
   * @param view any typed array
   * @returns whether it is a view into this memory (at any size the memory has had)
   */
  isResident(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  /** Grow the memory so that it holds at least `end` bytes. */
  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new ShapeError(
        `cannot allocate ${end - have} more bytes of WebAssembly memory: it is limited to 4 GiB; ` +
          "use the portable kernels (BPTT_KERNELS=portable) for a model this large",
      );
    }
    this.memory.grow(pages);
    this.buffers.add(this.memory.buffer);
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
