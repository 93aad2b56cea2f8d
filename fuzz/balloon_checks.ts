// What the balloon fuzz target checks after each notification besides chain_fuzzer's checks: every range the
// device gave back to the host is guest RAM that the guest offered in that notification (a frame of a good
// inflate chain of at most MAX_PFNS_PER_CHAIN frames, a buffer of a good reporting chain), no more bytes than were
// offered, and whole pages for frames; and the balloon size the device reports is never more than guest RAM.
import { BALLOON_PAGE_SIZE, VIRTIO_BALLOON_PFN_SHIFT } from "../src/devices/virtio/balloon/constants.ts";
import { MAX_PFNS_PER_CHAIN, type MemfdRange } from "../src/devices/virtio/balloon/pfn.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";
import { hex } from "./bytes.ts";
import { guestRangesOf } from "./guest_ram.ts";
import type { SeenChain } from "./queue_recorder.ts";
import { inside, lengthOf, merged, type Range } from "./ranges.ts";

export type BalloonQueueRole = "inflate" | "deflate" | "stats" | "reporting";

/** The frames of a good inflate chain the device may give back: none when the chain has too many. */
function framesOf(chain: SeenChain): Range[] {
  const bytes = chain.readable;
  if (bytes.length > MAX_PFNS_PER_CHAIN * 4) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Range[] = [];
  for (let at = 0; at + 4 <= bytes.length; at += 4)
    out.push({ addr: view.getUint32(at, true) * 2 ** VIRTIO_BALLOON_PFN_SHIFT, len: BALLOON_PAGE_SIZE });
  return out;
}

/** What the guest offered to give back with the good chains of one notification of a `role` queue. */
export function offeredRanges(role: BalloonQueueRole, popped: readonly SeenChain[]): Range[] {
  const good = popped.filter((c) => !c.error);
  if (role === "inflate") return good.flatMap(framesOf);
  if (role === "reporting") return good.flatMap((c) => c.buffers);
  return [];
}

/** A finding when what the device gave back (`released`, memfd ranges) is not all inside what was `offered`. */
export function releaseFinding(
  mem: GuestMemory,
  released: readonly MemfdRange[],
  offered: readonly Range[],
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
    const stray = pieces.find((p) => !inside(allowed, p));
    if (stray) return `${what()}: guest ${hex(stray.addr)}+${hex(stray.len)} was not offered`;
    bytes += r.length;
  }
  const offeredBytes = lengthOf(offered);
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
