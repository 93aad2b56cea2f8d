// Walks one descriptor chain of a split virtqueue (virtio 1.2 section 2.7.5) and checks everything the guest wrote
// into it. A chain that breaks a rule is returned with `error` set so the device can hand the buffer back unused;
// nothing here throws for guest input. Two forms of the result: ChainBuffers (typed arrays reused from chain to
// chain, with host addresses; for hot request paths) and DescriptorChain (an object per buffer; built from it).
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

/** Starting room of a ChainBuffers; it doubles when a chain is longer. */
const INITIAL_BUFFERS = 64;

/**
 * A chain's buffers in parallel typed arrays, reused from chain to chain: reading one allocates nothing, so the
 * request path of a busy device makes no garbage (a 1 MiB block request is ~258 buffers). Each buffer also
 * carries its host address, ready to go into an iovec. `toChain` gives the same chain as a DescriptorChain.
 */
export class ChainBuffers {
  /** Index of the head descriptor: the id written back into the used ring. */
  head = 0;
  /** Buffers read (all of them for a good chain; those before the problem for a refused one). */
  count = 0;
  /** Why the chain was refused, or undefined for a good chain. */
  error: string | undefined = undefined;
  /** Guest physical address of each buffer. */
  addr = new Float64Array(INITIAL_BUFFERS);
  /** Host virtual address of each buffer's first byte (the range is inside one RAM region). */
  host = new Float64Array(INITIAL_BUFFERS);
  len = new Uint32Array(INITIAL_BUFFERS);
  /** 1 for a device-writable buffer (VIRTQ_DESC_F_WRITE), else 0. */
  writable = new Uint8Array(INITIAL_BUFFERS);

  constructor(public mem: GuestMemory) {}

  /** Starts a new chain at `head`. */
  reset(head: number): void {
    this.head = head;
    this.count = 0;
    this.error = undefined;
  }

  push(addr: number, host: number, len: number, writable: boolean): void {
    const i = this.count;
    if (i === this.addr.length) this.#grow();
    this.addr[i] = addr;
    this.host[i] = host;
    this.len[i] = len;
    this.writable[i] = writable ? 1 : 0;
    this.count = i + 1;
  }

  #grow(): void {
    const n = this.addr.length * 2;
    const addr = new Float64Array(n);
    const host = new Float64Array(n);
    const len = new Uint32Array(n);
    const writable = new Uint8Array(n);
    addr.set(this.addr);
    host.set(this.host);
    len.set(this.len);
    writable.set(this.writable);
    [this.addr, this.host, this.len, this.writable] = [addr, host, len, writable];
  }

  /** The same chain with a Descriptor object per buffer (for code that walks chains with Reader/Writer). */
  toChain(): DescriptorChain {
    const out: Descriptor[] = [];
    for (let i = 0; i < this.count; i++)
      out.push({ addr: this.addr[i]!, len: this.len[i]!, writable: this.writable[i] === 1 });
    return new DescriptorChain(this.mem, this.head, out, this.error);
  }
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

/**
 * The table being walked, located once: struct virtq_desc `i` is at byte `base + 16 * i` of `view`; view is
 * undefined when the table is not inside one view of RAM (each entry is then located, and refused if outside RAM,
 * on its own).
 */
const walk: { view: DataView | undefined; base: number } = { view: undefined, base: 0 };

function locateTable(mem: GuestMemory, table: number, entries: number): void {
  const region = mem.locate(table, entries * VIRTQ_DESC_SIZE);
  walk.view = region < 0 ? undefined : mem.viewAt(region);
  walk.base = region < 0 ? 0 : table - mem.viewAddr(region);
}

/** The descriptor read last by readEntry; addr is -1 for an address above 2^53 - 1, which cannot be in RAM. */
const entry = { addr: 0, len: 0, flags: 0, next: 0 };

/** Reads struct virtq_desc (le64 addr, le32 len, le16 flags, le16 next; 2.7.5) at byte `o` of `v` into `entry`. */
function readEntry(v: DataView, o: number): void {
  const hi = v.getUint32(o + 4, true);
  entry.addr = hi > 0x1f_ffff ? -1 : hi * 2 ** 32 + v.getUint32(o, true);
  entry.len = v.getUint32(o + 8, true);
  entry.flags = v.getUint16(o + 12, true);
  entry.next = v.getUint16(o + 14, true);
}

/** Shared by readDescriptorChain: its chain becomes objects right after, so one scratch serves every memory. */
let scratch: ChainBuffers | undefined;

/** Reads the chain starting at `head` in the table at `descTable`; never throws for guest data. */
export function readDescriptorChain(
  mem: GuestMemory,
  descTable: number,
  head: number,
  limits: ChainLimits,
): DescriptorChain {
  scratch ??= new ChainBuffers(mem);
  scratch.mem = mem;
  readChainInto(descTable, head, limits, scratch);
  return scratch.toChain();
}

/**
 * Reads the chain starting at `head` in the table at `descTable` into `out` (in `out.mem`), setting `out.error`
 * when the chain breaks a rule; never throws for guest data.
 */
export function readChainInto(descTable: number, head: number, limits: ChainLimits, out: ChainBuffers): void {
  const mem = out.mem;
  out.reset(head);
  if (head >= limits.queueSize) {
    out.error = `head descriptor ${head} is not below the queue size ${limits.queueSize}`;
    return;
  }
  let table = descTable;
  let tableSize = limits.queueSize;
  let index = head;
  let inIndirect = false;
  // Loop guard: a chain visits each table entry at most once (2.7.5.2: "A driver MUST NOT create a descriptor
  // chain longer than the Queue Size of the device"); an indirect table gets its own budget of its entry count.
  let ttl = tableSize;
  let total = 0;
  let sawWritable = false;
  locateTable(mem, table, tableSize);

  for (;;) {
    if (ttl-- <= 0) {
      out.error = "descriptor chain loops or is longer than its table";
      return;
    }
    const v = walk.view;
    if (v !== undefined) {
      const at = walk.base + index * VIRTQ_DESC_SIZE;
      // An int32 offset keeps JavaScriptCore's DataView reads on their fast path (a double one is ~7x slower).
      if (at <= 0x7fff_ffff) readEntry(v, at | 0);
      else readEntry(v, at);
    } else {
      // Only part of the table is in RAM (a queue is checked whole at activation, so a test's odd layout): read
      // this one entry where it lies.
      const at = table + index * VIRTQ_DESC_SIZE;
      const region = mem.locate(at, VIRTQ_DESC_SIZE);
      if (region < 0) {
        out.error = `descriptor ${index} lies outside guest RAM`;
        return;
      }
      readEntry(mem.viewAt(region), at - mem.viewAddr(region));
    }
    const { addr, len, flags, next } = entry;

    if (flags & VIRTQ_DESC_F_INDIRECT) {
      // 2.7.5.3.1: the driver MUST NOT set INDIRECT unless VIRTIO_F_INDIRECT_DESC was negotiated, MUST NOT set it
      // inside an indirect table, and MUST NOT set both INDIRECT and NEXT.
      let why: string | undefined;
      if (!limits.indirect) why = "indirect descriptor used without VIRTIO_F_INDIRECT_DESC";
      else if (inIndirect) why = "nested indirect descriptor table";
      else if (flags & VIRTQ_DESC_F_NEXT) why = "descriptor sets both INDIRECT and NEXT";
      else if (len === 0 || len % VIRTQ_DESC_SIZE !== 0)
        why = `indirect table length ${len} is not a non-zero multiple of ${VIRTQ_DESC_SIZE}`;
      else if (len / VIRTQ_DESC_SIZE > VIRTQ_MAX_SIZE)
        why = `indirect table has ${len / VIRTQ_DESC_SIZE} entries (limit ${VIRTQ_MAX_SIZE})`;
      else if (addr < 0 || !mem.isValidRange(addr, len))
        why = `indirect table at 0x${rawAddrText(mem, table, index)} lies outside guest RAM`;
      if (why !== undefined) {
        out.error = why;
        return;
      }
      table = addr;
      tableSize = len / VIRTQ_DESC_SIZE;
      ttl = tableSize;
      index = 0;
      inIndirect = true;
      locateTable(mem, table, tableSize);
      continue;
    }

    const host = addr < 0 ? -1 : mem.hostAddress(addr, len);
    if (host < 0) {
      out.error = `buffer 0x${rawAddrText(mem, table, index)}+0x${len.toString(16)} lies outside guest RAM`;
      return;
    }
    const writable = (flags & VIRTQ_DESC_F_WRITE) !== 0;
    // 2.7.4.2: "The driver MUST place any device-writable descriptor elements after any device-readable ones."
    if (!writable && sawWritable) {
      out.error = "device-readable descriptor follows a device-writable one";
      return;
    }
    sawWritable ||= writable;
    total += len;
    if (total > MAX_CHAIN_BYTES) {
      out.error = "descriptor chain is longer than 2^32 bytes";
      return;
    }
    out.push(addr, host, len, writable);

    if (!(flags & VIRTQ_DESC_F_NEXT)) return;
    if (next >= tableSize) {
      out.error = `next index ${next} is not below the table size ${tableSize}`;
      return;
    }
    index = next;
  }
}
