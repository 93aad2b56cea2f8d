// The driver's side of a queue it set up through the transport: one chain published on it, as a driver does between
// DRIVER_OK and a notification. One or two buffers in the data area of low RAM (above the rings virtio_probe.ts
// lays out), device-writable or not, from a random head; the available idx goes on from the one in guest memory.
// A queue that is not active gets nothing: the driver has no ring there to publish on.
import type { Queue } from "../../src/devices/virtio/split_queue.ts";
import { ALL_RING_FEATURES, FakeDriverQueue } from "../../src/devices/virtio/testing.ts";
import type { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import type { Rng } from "../random.ts";

const CHAIN_DATA = 0x60000;
const CHAIN_DATA_SIZE = 0x40000;
const MAX_BUFFER = 0x1000;
/** Offset of the available ring's idx (virtio 1.2 section 2.7.6: flags, then idx). */
const AVAIL_IDX = 2;

/** Publishes a chain on `q` in `mem`; false when `q` is not active. */
export function publishChain(rng: Rng, mem: GuestMemory, q: Queue): boolean {
  if (!q.isActive) return false;
  const drv = new FakeDriverQueue(q.size, ALL_RING_FEATURES, 0, mem, {
    desc: q.descTable,
    avail: q.availRing,
    used: q.usedRing,
  });
  drv.setAvailIdx(mem.readU16(q.availRing + AVAIL_IDX));
  const buffers = Array.from({ length: 1 + rng.int(2) }, () => {
    const len = 1 + rng.int(MAX_BUFFER);
    return { addr: CHAIN_DATA + rng.int(CHAIN_DATA_SIZE - len), len, writable: rng.chance(0.6) };
  });
  const head = rng.int(q.size);
  drv.writeLinkedDescriptors(q.descTable, head, buffers, q.size);
  drv.publish(head);
  return true;
}
