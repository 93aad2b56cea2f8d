// What the balloon fuzz target checks after each notification besides chain_fuzzer's checks: every range the
// device gave back to the host is guest RAM that the guest offered in that notification (a frame of a good
// inflate chain of at most MAX_PFNS_PER_CHAIN frames, a buffer of a good reporting chain), no more bytes than were
// offered, and whole pages for frames; and the balloon size the device reports is never more than guest RAM.
import { BALLOON_PAGE_SIZE, VIRTIO_BALLOON_PFN_SHIFT } from "../src/devices/virtio/balloon/constants.ts";
import { MAX_PFNS_PER_CHAIN, type MemfdRange } from "../src/devices/virtio/balloon/pfn.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";
import { type GuestRange, guestRangesOf } from "./guest_ram.ts";
import type { PoppedChain } from "./popped_chains.ts";

export type BalloonQueueRole = "inflate" | "deflate" | "stats" | "reporting";

const hex = (n: number) => `0x${n.toString(16)}`;

/** The frames of a good inflate chain the device may give back: none when the chain has too many. */
function framesOf(popped: PoppedChain): GuestRange[] {
  const bytes = popped.readable;
  if (bytes.length > MAX_PFNS_PER_CHAIN * 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: GuestRange[] = [];
  for (let at = 0; at + 4 <= bytes.length; at += 4)
    out.push({ addr: view.getUint32(at, true) * 2 ** VIRTIO_BALLOON_PFN_SHIFT, length: BALLOON_PAGE_SIZE });
  return out;
}

/** What the guest offered to give back with the good chains of one notification of a `role` queue. */
export function offeredRanges(role: BalloonQueueRole, popped: readonly PoppedChain[]): GuestRange[] {
  const good = popped.filter((p) => !p.chain.error);
  if (role === "inflate") return good.flatMap(framesOf);
  if (role === "reporting")
    return good.flatMap((p) => p.chain.descriptors.map((d) => ({ addr: d.addr, length: d.len })));
  return [];
}

/** `ranges` sorted and merged where they overlap or touch. */
function merged(ranges: readonly GuestRange[]): GuestRange[] {
  const out: { addr: number; length: number }[] = [];
  for (const r of [...ranges].filter((r) => r.length > 0).sort((a, b) => a.addr - b.addr)) {
    const last = out[out.length - 1];
    if (last && r.addr <= last.addr + last.length)
      last.length = Math.max(last.length, r.addr + r.length - last.addr);
    else out.push({ addr: r.addr, length: r.length });
  }
  return out;
}

/** Whether [addr, addr + length) lies inside one of `sorted` (merged ranges). */
function inside(sorted: readonly GuestRange[], addr: number, length: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = sorted[mid]!;
    if (addr < r.addr) hi = mid - 1;
    else if (addr >= r.addr + r.length) lo = mid + 1;
    else return addr + length <= r.addr + r.length;
  }
  return false;
}

/** A finding when what the device gave back (`released`, memfd ranges) is not all inside what was `offered`. */
export function releaseFinding(
  mem: GuestMemory,
  released: readonly MemfdRange[],
  offered: readonly GuestRange[],
  wholePages: boolean,
): string | undefined {
  const allowed = merged(offered);
  let bytes = 0;
  for (const r of released) {
    const what = () => `gave back memfd ${hex(r.offset)}+${hex(r.length)}`;
    if (wholePages && (r.offset % BALLOON_PAGE_SIZE !== 0 || r.length % BALLOON_PAGE_SIZE !== 0))
      return `${what()}, which is not whole pages`;
    const pieces = guestRangesOf(mem, r.offset, r.length);
    if (!pieces) return `${what()}, which is not all guest RAM`;
    const stray = pieces.find((p) => !inside(allowed, p.addr, p.length));
    if (stray) return `${what()}: guest ${hex(stray.addr)}+${hex(stray.length)} was not offered`;
    bytes += r.length;
  }
  const offeredBytes = offered.reduce((n, r) => n + r.length, 0);
  if (bytes > offeredBytes) return `gave back ${bytes} bytes, more than the ${offeredBytes} offered`;
  return undefined;
}

/** A finding when a balloon size the device reports (`what`) is more pages than guest RAM has. */
export function sizeFinding(mem: GuestMemory, actualPages: number, what: string): string | undefined {
  const ramPages = mem.size / BALLOON_PAGE_SIZE;
  return actualPages >= 0 && actualPages <= ramPages
    ? undefined
    : `${what} reports ${actualPages} pages in the balloon, guest RAM has ${ramPages}`;
}
