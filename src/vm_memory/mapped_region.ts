// Guest memory regions mapped from a memfd: the VMM maps guest RAM this way (src/vmm/guest_ram.ts), and so does
// every device process, from the same memfd at the same offsets (src/jail/device_process/host.ts). A region is
// one MAP_SHARED mapping of any size; GuestMemory sees it through views of at most 4 GiB (guest_memory.ts).
import { MAP_NORESERVE, MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, viewOf } from "../../ffi/libc.ts";
import type { MemoryRegion } from "./guest_memory.ts";

export interface MemfdRegionSpec {
  readonly guestAddr: number;
  readonly size: number;
  /** Offset of the region's first byte inside the memfd. */
  readonly fdOffset: number;
}

/** A region whose bytes are a native mapping at `hostAddr`. */
export class MappedRegion implements MemoryRegion {
  constructor(
    readonly guestAddr: number,
    readonly size: number,
    readonly fdOffset: number,
    readonly hostAddr: number,
  ) {}

  view(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size)
      throw new RangeError(`view 0x${offset.toString(16)}+0x${length.toString(16)} is outside the region`);
    return viewOf(this.hostAddr + offset, length);
  }
}

/** Maps each region of `layout` from `memfd` (read-write, shared); unmaps what it mapped if one fails. */
export function mapMemfdRegions(memfd: number, layout: readonly MemfdRegionSpec[]): MappedRegion[] {
  const regions: MappedRegion[] = [];
  try {
    for (const r of layout) {
      const what = `guest memory at 0x${r.guestAddr.toString(16)} (${r.size} bytes)`;
      const addr = mmap(r.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd, r.fdOffset, what);
      regions.push(new MappedRegion(r.guestAddr, r.size, r.fdOffset, addr));
    }
    return regions;
  } catch (e) {
    unmapRegions(regions);
    throw e;
  }
}

/** Unmaps regions made by mapMemfdRegions. */
export function unmapRegions(regions: readonly MemoryRegion[]): void {
  for (const r of regions) munmap(r.hostAddr, r.size, "guest memory");
}
