// Guest RAM laid out as the VMM lays it out around the MMIO hole below 4 GiB: MEM_SIZE bytes at 0 and
// HIGH_RAM_SIZE bytes at FIRST_ADDR_PAST_32BITS, one memfd behind both (the high part right after the low one).
// A target whose device hands ranges of that memfd to the host (the balloon) maps them back with guestRangesOf.
import { FIRST_ADDR_PAST_32BITS } from "../src/arch/x86_64/layout.ts";
import { BufferRegion, GuestMemory, type MemoryRegion } from "../src/vm_memory/guest_memory.ts";
import { MEM_SIZE } from "./chain_fuzzer.ts";
import type { Range } from "./ranges.ts";

export const HIGH_RAM_SIZE = 0x40000;
/** Where RAM starts and ends on either side of the hole: addresses worth a buffer or a page frame. */
export const RAM_EDGES = [
  0,
  MEM_SIZE,
  FIRST_ADDR_PAST_32BITS,
  FIRST_ADDR_PAST_32BITS + HIGH_RAM_SIZE,
] as const;

/** A region of test memory at its own offset of the (imagined) memfd. */
function memfdRegion(guestAddr: number, size: number, fdOffset: number): MemoryRegion {
  const bytes = new BufferRegion(guestAddr, new Uint8Array(size));
  return {
    guestAddr,
    size,
    fdOffset,
    get hostAddr() {
      return bytes.hostAddr;
    },
    view: (offset, length) => bytes.view(offset, length),
  };
}

export function ramAroundHole(): GuestMemory {
  return new GuestMemory([
    memfdRegion(0, MEM_SIZE, 0),
    memfdRegion(FIRST_ADDR_PAST_32BITS, HIGH_RAM_SIZE, MEM_SIZE),
  ]);
}

/**
 * The guest physical ranges behind memfd bytes [offset, offset + length), one per region it touches; undefined
 * when any of it is not guest RAM.
 */
export function guestRangesOf(mem: GuestMemory, offset: number, length: number): Range[] | undefined {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0)
    return undefined;
  const out: Range[] = [];
  for (let at = offset; at < offset + length;) {
    const r = mem.regions.find((r) => at >= r.fdOffset && at < r.fdOffset + r.size);
    if (!r) return undefined;
    const end = Math.min(offset + length, r.fdOffset + r.size);
    out.push({ addr: r.guestAddr + (at - r.fdOffset), len: end - at });
    at = end;
  }
  return out;
}
