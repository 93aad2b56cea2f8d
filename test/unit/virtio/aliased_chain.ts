// A hostile driver's chain for the bounds tests: one indirect table whose entries all point at the same guest
// buffer, so a little guest memory describes a chain of many MiB (2.7.5.3 allows any addresses in the table).
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_SIZE } from "../../../src/devices/virtio/constants.ts";
import { DESC_BASE, type FakeDriverQueue } from "../../../src/devices/virtio/testing.ts";

export interface AliasedPart {
  readonly addr: number;
  readonly len: number;
  readonly writable?: boolean;
  /** How many table entries repeat this buffer (default 1). */
  readonly times?: number;
}

/** Publishes one descriptor whose indirect table lists `parts` (each repeated `times`); returns the head index. */
export function addAliasedIndirectChain(
  drv: FakeDriverQueue,
  parts: readonly AliasedPart[],
  head = 0,
): number {
  const entries = parts.flatMap((p) => Array.from({ length: p.times ?? 1 }, () => p));
  const table = drv.alloc(entries.length * VIRTQ_DESC_SIZE);
  drv.writeLinkedDescriptors(table, 0, entries);
  drv.writeDescriptor(DESC_BASE, head, {
    addr: table,
    len: entries.length * VIRTQ_DESC_SIZE,
    flags: VIRTQ_DESC_F_INDIRECT,
    next: 0,
  });
  drv.publish(head);
  return head;
}
