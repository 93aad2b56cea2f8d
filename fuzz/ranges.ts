// Guest physical ranges as the fuzz targets' checks handle them: what a device may write (memory_watch.ts), what
// a guest offered (balloon_checks.ts), the buffers of a chain (a Descriptor is a Range too).

export interface Range {
  readonly addr: number;
  readonly len: number;
}

/** Whether [a.addr, a.addr + a.len) and [b.addr, b.addr + b.len) share a byte. */
export function overlaps(a: Range, b: Range): boolean {
  return a.len > 0 && b.len > 0 && a.addr < b.addr + b.len && b.addr < a.addr + a.len;
}

/** `ranges` without the empty ones, sorted and merged where they overlap or touch. */
export function merged(ranges: readonly Range[]): Range[] {
  const out: { addr: number; len: number }[] = [];
  for (const r of [...ranges].filter((r) => r.len > 0).sort((a, b) => a.addr - b.addr)) {
    const last = out[out.length - 1];
    if (last && r.addr <= last.addr + last.len) last.len = Math.max(last.len, r.addr + r.len - last.addr);
    else out.push({ addr: r.addr, len: r.len });
  }
  return out;
}

/** Whether `r` lies inside one of `sorted` (ranges as `merged` gives them). */
export function inside(sorted: readonly Range[], r: Range): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = sorted[mid]!;
    if (r.addr < s.addr) hi = mid - 1;
    else if (r.addr >= s.addr + s.len) lo = mid + 1;
    else return r.addr + r.len <= s.addr + s.len;
  }
  return false;
}

/** Bytes in `ranges`. */
export const lengthOf = (ranges: readonly Range[]): number => ranges.reduce((n, r) => n + r.len, 0);
