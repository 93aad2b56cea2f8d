// uidmap / gidmap of --shared-dir: crosvm's "inner outer count[,inner outer count...]" lists, where inner ids are
// the guest's and outer ids the host's (crosvm gives them to the device's user namespace; our server applies them
// itself): attributes show host owners as guest ids, and files the guest creates or chowns get the host ids.
// Ids outside every range pass through unchanged when no map is given; with a map, an unmapped host id shows as
// the overflow id 65534 and an unmapped guest id is refused (EINVAL), as the kernel does for user namespaces.

export interface IdRange {
  readonly inner: number;
  readonly outer: number;
  readonly count: number;
}

/**
 * The largest uid or gid a process can have: uid_t and gid_t are 32-bit, and (uid_t)-1 is no id
 * (include/linux/uidgid.h uid_valid; setresuid(2) reads it as "leave unchanged").
 */
export const MAX_VALID_ID = 0xffff_fffe;

/** The overflow uid/gid (/proc/sys/kernel/overflowuid). */
export const OVERFLOW_ID = 65534;
const MAX_ID = 0xffff_ffff;

/** Parses "inner outer count[,inner outer count]"; returns the ranges or a one-line reason. */
export function parseIdMap(text: string): IdRange[] | string {
  const ranges: IdRange[] = [];
  for (const part of text.split(",")) {
    const words = part.trim().split(/\s+/);
    const nums = words.map((w) => (/^\d+$/.test(w) ? Number(w) : NaN));
    if (words.length !== 3 || nums.some((n) => !Number.isSafeInteger(n) || n > MAX_ID))
      return `"${part.trim()}" is not "inner outer count" (three unsigned integers)`;
    const [inner, outer, count] = nums as [number, number, number];
    if (count === 0 || inner + count - 1 > MAX_ID || outer + count - 1 > MAX_ID)
      return `"${part.trim()}": count must be at least 1 and the ranges must stay below 2^32`;
    for (const r of ranges) {
      if (inner < r.inner + r.count && r.inner < inner + count)
        return `"${part.trim()}" overlaps another range's inner ids`;
      if (outer < r.outer + r.count && r.outer < outer + count)
        return `"${part.trim()}" overlaps another range's outer ids`;
    }
    ranges.push({ inner, outer, count });
  }
  return ranges;
}

export class IdMap {
  constructor(readonly ranges: readonly IdRange[] | undefined) {}

  /** Guest id -> host id; -1 when the map does not cover it. */
  toHost(inner: number): number {
    if (!this.ranges) return inner;
    for (const r of this.ranges)
      if (inner >= r.inner && inner < r.inner + r.count) return r.outer + inner - r.inner;
    return -1;
  }

  /** Host id -> guest id; the overflow id when the map does not cover it. */
  toGuest(outer: number): number {
    if (!this.ranges) return outer;
    for (const r of this.ranges)
      if (outer >= r.outer && outer < r.outer + r.count) return r.inner + outer - r.outer;
    return OVERFLOW_ID;
  }
}
