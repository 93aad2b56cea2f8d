// Walks one descriptor chain of a split virtqueue (virtio 1.2 section 2.7.5) and checks everything the guest wrote
// into it. A chain that breaks a rule is returned with `error` set so the device can hand the buffer back unused;
// nothing here throws for guest input.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
} from "./constants.ts";

export interface Descriptor {
  /** Guest physical address of the buffer (checked to lie inside guest RAM). */
  readonly addr: number;
  readonly len: number;
  /** True for a device-writable buffer (VIRTQ_DESC_F_WRITE). */
  readonly writable: boolean;
}

/** Largest total byte count of one chain (2.7.5.2: "the sum of the lengths ... MUST NOT exceed 2^32"). */
export const MAX_CHAIN_BYTES = 2 ** 32;

export class DescriptorChain {
  constructor(
    readonly mem: GuestMemory,
    /** Index of the head descriptor: the id written back into the used ring. */
    readonly head: number,
    readonly descriptors: readonly Descriptor[],
    /** Why the chain was refused, or undefined for a good chain. */
    readonly error: string | undefined = undefined,
  ) {}

  get readable(): Descriptor[] {
    return this.descriptors.filter((d) => !d.writable);
  }

  get writable(): Descriptor[] {
    return this.descriptors.filter((d) => d.writable);
  }
}

/**
 * The descriptor read last by readRaw (module scratch: no object per descriptor). addr is -1 when the guest wrote
 * an address above 2^53 - 1, which cannot be in RAM.
 */
const raw = { addr: 0, len: 0, flags: 0, next: 0 };

/** Reads struct virtq_desc `index` of `table` into `raw`; false when it lies outside guest RAM. */
function readRaw(mem: GuestMemory, table: number, index: number): boolean {
  const at = table + index * VIRTQ_DESC_SIZE;
  const region = mem.locate(at, VIRTQ_DESC_SIZE);
  if (region < 0) return false;
  const v = mem.regionView(region);
  const o = at - mem.regions[region]!.guestAddr;
  const hi = v.getUint32(o + 4, true);
  // A u64 address above 2^53 - 1 cannot be in RAM; -1 lets the caller refuse it without BigInt.
  raw.addr = hi > 0x1f_ffff ? -1 : hi * 2 ** 32 + v.getUint32(o, true);
  raw.len = v.getUint32(o + 8, true);
  raw.flags = v.getUint16(o + 12, true);
  raw.next = v.getUint16(o + 14, true);
  return true;
}

/** Hex of a raw 64-bit address field, for messages (re-read as BigInt only on this error path). */
function rawAddrText(mem: GuestMemory, table: number, index: number): string {
  return mem.readU64(table + index * VIRTQ_DESC_SIZE + 0).toString(16);
}

export interface ChainLimits {
  /** Entries in the queue's descriptor table (the negotiated queue size). */
  readonly queueSize: number;
  /** Whether VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect: boolean;
}

/** Reads the chain starting at `head` in the table at `descTable`; never throws for guest data. */
export function readDescriptorChain(
  mem: GuestMemory,
  descTable: number,
  head: number,
  limits: ChainLimits,
): DescriptorChain {
  const out: Descriptor[] = [];
  const fail = (why: string) => new DescriptorChain(mem, head, out, why);
  if (head >= limits.queueSize)
    return fail(`head descriptor ${head} is not below the queue size ${limits.queueSize}`);

  let table = descTable;
  let tableSize = limits.queueSize;
  let index = head;
  let inIndirect = false;
  // Loop guard: a chain visits each table entry at most once (2.7.5.2: "A driver MUST NOT create a descriptor
  // chain longer than the Queue Size of the device"); an indirect table gets its own budget of its entry count.
  let ttl = tableSize;
  let total = 0;
  let sawWritable = false;

  for (;;) {
    if (ttl-- <= 0) return fail("descriptor chain loops or is longer than its table");
    if (!readRaw(mem, table, index)) return fail(`descriptor ${index} lies outside guest RAM`);
    const d = raw;

    if (d.flags & VIRTQ_DESC_F_INDIRECT) {
      // 2.7.5.3.1: the driver MUST NOT set INDIRECT unless VIRTIO_F_INDIRECT_DESC was negotiated, MUST NOT set it
      // inside an indirect table, and MUST NOT set both INDIRECT and NEXT.
      if (!limits.indirect) return fail("indirect descriptor used without VIRTIO_F_INDIRECT_DESC");
      if (inIndirect) return fail("nested indirect descriptor table");
      if (d.flags & VIRTQ_DESC_F_NEXT) return fail("descriptor sets both INDIRECT and NEXT");
      if (d.len === 0 || d.len % VIRTQ_DESC_SIZE !== 0)
        return fail(`indirect table length ${d.len} is not a non-zero multiple of ${VIRTQ_DESC_SIZE}`);
      const entries = d.len / VIRTQ_DESC_SIZE;
      if (entries > VIRTQ_MAX_SIZE)
        return fail(`indirect table has ${entries} entries (limit ${VIRTQ_MAX_SIZE})`);
      if (d.addr < 0 || !mem.isValidRange(d.addr, d.len))
        return fail(`indirect table at 0x${rawAddrText(mem, table, index)} lies outside guest RAM`);
      table = d.addr;
      tableSize = entries;
      ttl = entries;
      index = 0;
      inIndirect = true;
      continue;
    }

    const addr = d.addr;
    if (addr < 0 || !mem.isValidRange(addr, d.len))
      return fail(
        `buffer 0x${rawAddrText(mem, table, index)}+0x${d.len.toString(16)} lies outside guest RAM`,
      );
    const writable = (d.flags & VIRTQ_DESC_F_WRITE) !== 0;
    // 2.7.4.2: "The driver MUST place any device-writable descriptor elements after any device-readable ones."
    if (!writable && sawWritable) return fail("device-readable descriptor follows a device-writable one");
    sawWritable ||= writable;
    total += d.len;
    if (total > MAX_CHAIN_BYTES) return fail("descriptor chain is longer than 2^32 bytes");
    out.push({ addr, len: d.len, writable });

    if (!(d.flags & VIRTQ_DESC_F_NEXT)) return new DescriptorChain(mem, head, out);
    if (d.next >= tableSize) return fail(`next index ${d.next} is not below the table size ${tableSize}`);
    index = d.next;
  }
}
