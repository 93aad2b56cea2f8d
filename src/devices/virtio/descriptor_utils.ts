// Reader and Writer: byte streams over the device-readable and device-writable buffers of a descriptor chain
// (the shape of crosvm's descriptor_utils.rs). The Writer only ever sees device-writable buffers, so a device
// cannot write into a buffer the driver marked device-readable (2.7.4.2: "A device MUST NOT write to a
// device-readable buffer"). Running short throws ChainTooShortError, which the queue loop turns into a failed
// request.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import type { Descriptor, DescriptorChain } from "./descriptor_chain.ts";

export class ChainTooShortError extends Error {
  constructor(what: string, wanted: number, available: number) {
    super(`descriptor chain too short: ${what} needs ${wanted} bytes, ${available} left`);
    this.name = "ChainTooShortError";
  }
}

/** A cursor over a list of guest buffers. */
class Cursor {
  #parts: { addr: number; len: number }[];
  #index = 0;
  #offset = 0;
  #available: number;
  #done = 0;

  constructor(
    readonly mem: GuestMemory,
    parts: readonly Descriptor[] | readonly { addr: number; len: number }[],
  ) {
    this.#parts = parts.filter((p) => p.len > 0).map((p) => ({ addr: p.addr, len: p.len }));
    this.#available = this.#parts.reduce((n, p) => n + p.len, 0);
  }

  get available(): number {
    return this.#available;
  }

  get done(): number {
    return this.#done;
  }

  /** Live views of up to `n` bytes of guest memory from the cursor, advancing past them. */
  take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = Math.min(n, this.#available);
    while (left > 0) {
      const p = this.#parts[this.#index]!;
      const chunk = Math.min(left, p.len - this.#offset);
      out.push(this.mem.slice(p.addr + this.#offset, chunk));
      this.#offset += chunk;
      left -= chunk;
      this.#available -= chunk;
      this.#done += chunk;
      if (this.#offset === p.len) {
        this.#index++;
        this.#offset = 0;
      }
    }
    return out;
  }

  /** Cuts the stream at `offset` bytes from the cursor; returns the parts after it and keeps the ones before. */
  split(offset: number): { addr: number; len: number }[] {
    const at = Math.max(0, Math.min(offset, this.#available));
    const head: { addr: number; len: number }[] = [];
    const tail: { addr: number; len: number }[] = [];
    let skip = at;
    for (let i = this.#index; i < this.#parts.length; i++) {
      const p = this.#parts[i]!;
      const start = i === this.#index ? this.#offset : 0;
      const len = p.len - start;
      const addr = p.addr + start;
      if (skip >= len) {
        head.push({ addr, len });
        skip -= len;
      } else {
        if (skip > 0) head.push({ addr, len: skip });
        tail.push({ addr: addr + skip, len: len - skip });
        skip = 0;
      }
    }
    this.#parts = head;
    this.#index = 0;
    this.#offset = 0;
    this.#available = at;
    return tail;
  }
}

/** Reads the device-readable part of a chain in order. */
export class Reader {
  readonly #c: Cursor;

  constructor(mem: GuestMemory, parts: readonly { addr: number; len: number }[]) {
    this.#c = new Cursor(mem, parts);
  }

  static of(chain: DescriptorChain): Reader {
    return new Reader(chain.mem, chain.readable);
  }

  /** Bytes left to read. */
  get available(): number {
    return this.#c.available;
  }

  get bytesRead(): number {
    return this.#c.done;
  }

  /** Copies exactly `n` bytes out; throws ChainTooShortError if fewer are left. */
  readExact(n: number, what = "read"): Uint8Array {
    if (n > this.available) throw new ChainTooShortError(what, n, this.available);
    const out = new Uint8Array(n);
    let at = 0;
    for (const s of this.#c.take(n)) {
      out.set(s, at);
      at += s.length;
    }
    return out;
  }

  /** Copies as many bytes as fit into `buf`; returns the count. */
  readInto(buf: Uint8Array): number {
    let at = 0;
    for (const s of this.#c.take(buf.length)) {
      buf.set(s, at);
      at += s.length;
    }
    return at;
  }

  readU32(what = "u32"): number {
    const b = this.readExact(4, what);
    return new DataView(b.buffer).getUint32(0, true);
  }

  readU64(what = "u64"): bigint {
    const b = this.readExact(8, what);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  /** Live guest-memory views of the next `n` bytes (fewer if the chain is shorter), consumed. */
  slices(n: number): Uint8Array[] {
    return this.#c.take(n);
  }

  /** Skips up to `n` bytes; returns how many were skipped. */
  consume(n: number): number {
    return this.#c.take(n).reduce((a, s) => a + s.length, 0);
  }

  /** Returns a Reader over the bytes from `offset` on; this Reader keeps the bytes before it. */
  splitAt(offset: number): Reader {
    return new Reader(this.#c.mem, this.#c.split(offset));
  }
}

/** Writes the device-writable part of a chain in order. */
export class Writer {
  readonly #c: Cursor;

  constructor(mem: GuestMemory, parts: readonly { addr: number; len: number }[]) {
    this.#c = new Cursor(mem, parts);
  }

  static of(chain: DescriptorChain): Writer {
    return new Writer(chain.mem, chain.writable);
  }

  /** Room left. */
  get available(): number {
    return this.#c.available;
  }

  get bytesWritten(): number {
    return this.#c.done;
  }

  /** Writes all of `data`; throws ChainTooShortError if it does not fit. */
  writeAll(data: Uint8Array, what = "write"): void {
    if (data.length > this.available) throw new ChainTooShortError(what, data.length, this.available);
    this.write(data);
  }

  /** Writes as much of `data` as fits; returns the count. */
  write(data: Uint8Array): number {
    let at = 0;
    for (const s of this.#c.take(data.length)) {
      s.set(data.subarray(at, at + s.length));
      at += s.length;
    }
    return at;
  }

  writeU8(value: number, what = "u8"): void {
    this.writeAll(Uint8Array.of(value), what);
  }

  /** Live guest-memory views of the next `n` bytes (fewer if there is less room), consumed. */
  slices(n: number): Uint8Array[] {
    return this.#c.take(n);
  }

  /** Returns a Writer over the room from `offset` on; this Writer keeps the room before it. */
  splitAt(offset: number): Writer {
    return new Writer(this.#c.mem, this.#c.split(offset));
  }
}
