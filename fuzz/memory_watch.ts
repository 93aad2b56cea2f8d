// Which bytes of guest memory a device changed while it handled one notification: a snapshot before, and after
// it the first changed byte outside the ranges the device may write. Ranges are compared with memcmp
// (bytes.ts), so watching a 1 MiB guest costs microseconds per notification.
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";
import { firstDifference } from "./bytes.ts";
import { merged, type Range } from "./ranges.ts";

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

  /** The bytes [addr, addr + len) now (a view). */
  now(addr: number, len: number): Uint8Array {
    return this.#live.subarray(addr, addr + len);
  }

  /** The first address changed since the snapshot that lies outside every range of `allowed`, or -1. */
  strayWrite(allowed: readonly Range[]): number {
    const size = this.#live.length;
    let from = 0;
    for (const r of [...merged(allowed), { addr: size, len: 0 }]) {
      const to = Math.min(r.addr, size);
      if (to > from) {
        const at = firstDifference(this.#live.subarray(from, to), this.#before.subarray(from, to));
        if (at >= 0) return from + at;
      }
      from = Math.max(from, r.addr + r.len);
      if (from >= size) break;
    }
    return -1;
  }
}
