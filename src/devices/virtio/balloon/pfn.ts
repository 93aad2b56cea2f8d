// Page frames the guest names in the inflate and deflate queues (virtio 1.2 5.5.6.1: an array of le32 page frame
// numbers, in 4 KiB units whatever the guest's page size), turned into ranges of the guest-RAM memfd. Every frame
// is bounded before it drives any work: one outside guest RAM is refused (and counted), never punched, and the
// frames of one chain are few (MAX_PFNS_PER_CHAIN). Consecutive frames that are also consecutive in the memfd
// become one range, so a 2 MiB huge page given back whole is one fallocate, and a part of one is exactly its
// 4 KiB units.
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import { BALLOON_PAGE_SIZE, VIRTIO_BALLOON_PFN_SHIFT } from "./constants.ts";

/**
 * Most frames one inflate or deflate chain may carry. Linux sends at most 256 (VIRTIO_BALLOON_ARRAY_PFNS_MAX,
 * drivers/virtio/virtio_balloon.c); a longer chain is refused whole rather than read.
 */
export const MAX_PFNS_PER_CHAIN = 16384;

/** A byte range of the guest-RAM memfd. */
export interface MemfdRange {
  readonly offset: number;
  readonly length: number;
}

/** The memfd offset of guest physical [addr, addr+length), or -1 when the range is not inside one RAM region. */
export function memfdOffsetOf(mem: GuestMemory, addr: number, length: number): number {
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length <= 0) return -1;
  for (const r of mem.regions)
    if (addr >= r.guestAddr && addr + length <= r.guestAddr + r.size)
      return r.fdOffset + (addr - r.guestAddr);
  return -1;
}

/** Ranges of the memfd, merged while each one starts where the previous one ends. */
export class MemfdRanges {
  readonly ranges: MemfdRange[] = [];

  add(offset: number, length: number): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && last.offset + last.length === offset)
      this.ranges[this.ranges.length - 1] = { offset: last.offset, length: last.length + length };
    else this.ranges.push({ offset, length });
  }

  get bytes(): number {
    return this.ranges.reduce((n, r) => n + r.length, 0);
  }
}

export interface DecodedPfns {
  /** The frames inside guest RAM, as merged memfd ranges. */
  readonly ranges: readonly MemfdRange[];
  /** How many frames were inside guest RAM. */
  readonly accepted: number;
  /** Frames outside guest RAM (refused); the first of them, for the log. */
  readonly refused: number;
  readonly firstRefused: number | undefined;
}

/**
 * Decodes `bytes` (le32 page frame numbers; a trailing partial entry is ignored) against `mem`. The caller
 * bounds the length (MAX_PFNS_PER_CHAIN).
 */
export function decodePfns(mem: GuestMemory, bytes: Uint8Array): DecodedPfns {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new MemfdRanges();
  let accepted = 0;
  let refused = 0;
  let firstRefused: number | undefined;
  for (let at = 0; at + 4 <= bytes.length; at += 4) {
    const pfn = view.getUint32(at, true);
    const offset = memfdOffsetOf(mem, pfn * 2 ** VIRTIO_BALLOON_PFN_SHIFT, BALLOON_PAGE_SIZE);
    if (offset < 0) {
      refused++;
      firstRefused ??= pfn;
      continue;
    }
    accepted++;
    out.add(offset, BALLOON_PAGE_SIZE);
  }
  return { ranges: out.ranges, accepted, refused, firstRefused };
}
