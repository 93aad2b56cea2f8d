// Segment descriptors (Intel SDM Vol. 3A §3.4.5 "Segment Descriptors"; Linux arch/x86/include/asm/segment.h
// GDT_ENTRY). `flags` packs the access byte in bits 0-7 and the G/DB/L/AVL nibble in bits 12-15, as in Linux.
import type { KvmSegment } from "../../../ffi/kvm_types.ts";

/** Builds a descriptor from Linux-style flags, a 32-bit base and a 20-bit limit. */
export function gdtEntry(flags: number, base: number, limit: number): bigint {
  const b = BigInt(base >>> 0);
  const l = BigInt(limit >>> 0);
  const f = BigInt(flags & 0xffff);
  return (
    ((b & 0xff00_0000n) << 32n) |
    ((f & 0xf0ffn) << 40n) |
    ((l & 0x000f_0000n) << 32n) |
    ((b & 0x00ff_ffffn) << 16n) |
    (l & 0xffffn)
  );
}

const bits = (entry: bigint, shift: bigint, mask: bigint) => Number((entry >> shift) & mask);

/** The fields of a descriptor as KVM's struct kvm_segment wants them, with the limit scaled by granularity. */
export function segmentFromGdt(entry: bigint, index: number): KvmSegment {
  const g = bits(entry, 55n, 1n);
  const rawLimit = bits(entry, 48n, 0xfn) * 0x10000 + bits(entry, 0n, 0xffffn);
  const base = ((entry >> 32n) & 0xff00_0000n) | ((entry >> 16n) & 0x00ff_ffffn);
  return {
    base,
    limit: g ? rawLimit * 4096 + 4095 : rawLimit,
    selector: index * 8,
    type: bits(entry, 40n, 0xfn),
    present: bits(entry, 47n, 1n),
    dpl: bits(entry, 45n, 3n),
    db: bits(entry, 54n, 1n),
    s: bits(entry, 44n, 1n),
    l: bits(entry, 53n, 1n),
    g,
    avl: bits(entry, 52n, 1n),
    unusable: 0,
  };
}
