// Start-up pages of the executable. A Bun process touches about 30 MiB of its executable's code and read-only
// data while it starts (JavaScriptCore's initialisation, module loading, bytecode decoding) and needs only a few
// MiB of it afterwards. Those pages stay mapped, so every device process keeps them in its resident set (and in
// its PSS). Once start-up is over, madvise(MADV_DONTNEED) drops them from this process's page tables; what the
// device still runs faults back in from the page cache. It is safe only where the mapping holds nothing but file
// pages: read-only private mappings of the executable with no anonymous (copied-on-write) page, so not the
// relocated GNU_RELRO part nor any writable segment. For such pages it is what page reclaim may do at any time.
import { readFileSync, readlinkSync } from "node:fs";
import { syscall } from "../../../ffi/libc.ts";
import { X86_64_SYSCALLS } from "../seccomp/syscall_table.ts";

/** include/uapi/asm-generic/mman-common.h */
export const MADV_DONTNEED = 4;

export interface MappedRange {
  readonly start: number;
  readonly length: number;
}

// /proc/PID/smaps mapping header: "start-end perms offset dev inode   pathname" (proc(5)).
const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/;
const ANONYMOUS = /^Anonymous:\s+(\d+) kB$/;

/**
 * The mappings of `path` in `smaps` (the text of /proc/PID/smaps) that are read-only, private and hold no
 * anonymous page: the ones whose pages can be dropped and read back from the file unchanged.
 */
export function cleanReadOnlyMappings(smaps: string, path: string): MappedRange[] {
  const out: MappedRange[] = [];
  let candidate: MappedRange | undefined;
  for (const line of smaps.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      const [, start, end, perms, name] = header;
      const readOnly = perms === "r--p" || perms === "r-xp";
      candidate =
        readOnly && name === path
          ? { start: parseInt(start!, 16), length: parseInt(end!, 16) - parseInt(start!, 16) }
          : undefined;
      continue;
    }
    const anonymous = ANONYMOUS.exec(line);
    if (anonymous && candidate) {
      if (Number(anonymous[1]) === 0) out.push(candidate);
      candidate = undefined;
    }
  }
  return out;
}

/** This process's droppable executable mappings; read before the sandbox hides /proc. Empty if unreadable. */
export function executableStartupPages(): MappedRange[] {
  try {
    return cleanReadOnlyMappings(readFileSync("/proc/self/smaps", "utf8"), readlinkSync("/proc/self/exe"));
  } catch {
    return [];
  }
}

/**
 * Drops the pages of `ranges` from this process (madvise MADV_DONTNEED, which every device policy allows);
 * returns the bytes covered. Call it once start-up is over and the ranges were read from this process.
 */
export function releasePages(ranges: readonly MappedRange[]): number {
  let bytes = 0;
  for (const r of ranges) {
    syscall(X86_64_SYSCALLS.madvise!, "madvise(MADV_DONTNEED)", r.start, r.length, MADV_DONTNEED);
    bytes += r.length;
  }
  return bytes;
}
