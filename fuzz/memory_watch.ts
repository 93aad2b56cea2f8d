// Which bytes of guest memory a device changed while it handled one notification: a snapshot before, and after
// it the first changed byte outside the ranges the device may write. Ranges are compared with memcmp
// (Buffer.compare), so watching a 1 MiB guest costs microseconds per notification.
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";

export interface Range {
  readonly addr: number;
  readonly len: number;
}

/** Whether [a.addr, a.addr + a.len) and [b.addr, b.addr + b.len) share a byte. */
export function overlaps(a: Range, b: Range): boolean {
  return a.len > 0 && b.len > 0 && a.addr < b.addr + b.len && b.addr < a.addr + a.len;
}

export class MemoryWatch {
  readonly #live: Uint8Array;
  readonly #before: Uint8Array;

  constructor(mem: GuestMemory, size: number) {
    this.#live = mem.slice(0, size);
    this.#before = new Uint8Array(size);
  }

  snapshot(): void {
    this.#before.set(this.#live);
  }

  /** The bytes [addr, addr + len) as they were at the snapshot (a view; empty past the end). */
  before(addr: number, len: number): Uint8Array {
    return this.#before.subarray(addr, addr + len);
  }

  /** The bytes [addr, addr + len) now (a view). */
  now(addr: number, len: number): Uint8Array {
    return this.#live.subarray(addr, addr + len);
  }

  /** The first address changed since the snapshot that lies outside every range of `allowed`, or -1. */
  strayWrite(allowed: readonly Range[]): number {
    const size = this.#live.length;
    const sorted = allowed
      .filter((r) => r.len > 0 && r.addr < size)
      .map((r) => ({ start: r.addr, end: Math.min(size, r.addr + r.len) }))
      .sort((a, b) => a.start - b.start);
    let from = 0;
    for (const r of [...sorted, { start: size, end: size }]) {
      if (r.start > from) {
        const at = this.#firstChange(from, r.start);
        if (at >= 0) return at;
      }
      from = Math.max(from, r.end);
    }
    return -1;
  }

  #firstChange(from: number, to: number): number {
    const live = this.#live.subarray(from, to);
    const before = this.#before.subarray(from, to);
    if (Buffer.compare(live, before) === 0) return -1;
    for (let i = 0; i < live.length; i++) if (live[i] !== before[i]) return from + i;
    return -1;
  }
}
