// Guest memory regions mapped from a memfd: the VMM maps guest RAM this way (src/vmm/guest_ram.ts), and so does
// every device process, from the same memfd at the same offsets (src/jail/device_process/host.ts). A region is
// one MAP_SHARED mapping of any size; GuestMemory sees it through views of at most 4 GiB (guest_memory.ts).
import {
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  mmap,
  mmapFixed,
  munmap,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  viewOf,
} from "../../ffi/libc.ts";
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

/**
 * Maps each region of `layout` from `memfd` (read-write, shared); unmaps what it mapped if one fails. With
 * `alignment` (a power of two) every region starts at a host address that is a multiple of it, e.g. 2 MiB so that
 * the kernel can map the region's huge pages with one page-table entry each (and KVM then map them whole).
 */
export function mapMemfdRegions(
  memfd: number,
  layout: readonly MemfdRegionSpec[],
  alignment = 0,
): MappedRegion[] {
  const regions: MappedRegion[] = [];
  try {
    for (const r of layout) {
      const what = `guest memory at 0x${r.guestAddr.toString(16)} (${r.size} bytes)`;
      const flags = MAP_SHARED | MAP_NORESERVE;
      const addr =
        alignment > 0
          ? mmapAligned(r.size, alignment, flags, memfd, r.fdOffset, what)
          : mmap(r.size, PROT_READ | PROT_WRITE, flags, memfd, r.fdOffset, what);
      regions.push(new MappedRegion(r.guestAddr, r.size, r.fdOffset, addr));
    }
    return regions;
  } catch (e) {
    unmapRegions(regions);
    throw e;
  }
}

/**
 * The first multiple of `alignment` at or after `addr`. arch/x86_64/bytes.ts has the same for the layers above;
 * guest memory sits below arch, so it keeps its own.
 */
const alignUp = (addr: number, alignment: number) => Math.ceil(addr / alignment) * alignment;

/** mmap of `size` bytes of `fd` at a multiple of `alignment`: reserves size + alignment, maps inside, trims. */
function mmapAligned(
  size: number,
  alignment: number,
  flags: number,
  fd: number,
  offset: number,
  what: string,
): number {
  const span = size + alignment;
  const reserved = mmap(span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, what);
  const addr = alignUp(reserved, alignment);
  try {
    mmapFixed(addr, size, PROT_READ | PROT_WRITE, flags, fd, offset, what);
  } catch (e) {
    munmap(reserved, span, what);
    throw e;
  }
  if (addr > reserved) munmap(reserved, addr - reserved, what);
  const tail = reserved + span - (addr + size);
  if (tail > 0) munmap(addr + size, tail, what);
  return addr;
}

/** Unmaps regions made by mapMemfdRegions. */
export function unmapRegions(regions: readonly MemoryRegion[]): void {
  for (const r of regions) munmap(r.hostAddr, r.size, "guest memory");
}
