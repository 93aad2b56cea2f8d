// Guest RAM in 2 MiB pages on a host that gives a memfd none by itself. Guest RAM is shmem (one memfd shared with the
// device processes: guest_ram.ts), and Linux backs shmem with transparent huge pages only where
// /sys/kernel/mm/transparent_hugepage/shmem_enabled allows it; Debian's default is "never". QEMU's anonymous RAM gets a
// huge page at the guest's first touch of each 2 MiB (THP "always", or "madvise" with its MADV_HUGEPAGE), so KVM maps
// it with one 2 MiB nested page-table entry where we need 512 of 4 KiB, each its own nested page fault (in the nested
// rig each one is a trip through the L1 hypervisor: bench/boot-time/README.md has the numbers). MADV_COLLAPSE (Linux
// 6.1, mm/khugepaged.c madvise_collapse; for shmem hugepage_vma_check passes shmem_huge_force, so every shmem_enabled
// setting but "deny" allows it) collapses a range into a huge page now and maps it with one PMD. At the defaults the
// collapser only makes the ranges a boot writes first huge, up to a budget, before the first KVM_RUN (ahead,
// aheadOffsets; run.ts). With --hugepages it then does for guest RAM what khugepaged would: every 2 MiB range of which
// the guest has touched a page (the memfd holds data there: lseek SEEK_DATA) is collapsed once. The rest of that range
// then costs the guest no further faults, and memory is committed 2 MiB at a time as THP "always" commits it for QEMU.
// A range is never collapsed twice, so what the balloon later punches out of it (a 4 KiB page of a huge page splits it)
// stays returned. The guest decides which ranges are touched, but each is collapsed at most once and a pass collapses
// at most `maxPerPass`: the work is bounded by the RAM size.
//
// The balloon: a collapse fills the holes of its range, and the memfd cannot tell a page the balloon punched from one
// the guest never touched, so a range first collapsed after an inflate could take ballooned pages back. The VMM
// therefore stops the collapser for good before the first inflate (`stopsCollapse`, run.ts), and lets it go no further
// than the ahead ranges when the balloon starts inflated (--init-mem; nothing is ballooned before the first KVM_RUN).
// Free page reporting needs no stop: Linux reports free blocks of pageblock order (2 MiB on x86-64,
// mm/page_reporting.c), whole aligned ranges, and punching a whole range leaves no data there that a collapse would act
// on.
import { logger } from "../base/log.ts";
import { workerEntryUrl } from "../base/worker_url.ts";
import type { BalloonControlCommand } from "../vm_control/protocol.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { GuestRange } from "./boot_setup.ts";
import type { CollapseWorkerInit } from "./ram_collapse_worker.ts";

const log = logger("ram-collapse");

/** x86-64's PMD page size (HPAGE_PMD_SIZE): what MADV_COLLAPSE makes and one page-table entry maps. */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;
const PAGE_SIZE = 4096;
/** How often the collapser looks for newly touched ranges. */
export const COLLAPSE_INTERVAL_MS = 100;
/**
 * Pacing: the next pass starts at least PACE_FACTOR times the last pass's duration after it ends, so the
 * collapser's thread takes at most 1 / (1 + PACE_FACTOR) of a CPU from the vCPUs. A collapse may have to reclaim
 * or compact memory for its huge page (MADV_COLLAPSE always may, whatever THP's defrag setting): in the nested rig
 * a single one took up to a second and a pass of 8 up to 5.6 s (bench/boot-time/README.md).
 */
export const PACE_FACTOR = 4;
/** Milliseconds from the end of a pass that took `passMs` to the start of the next one. */
export function nextPassDelayMs(passMs: number, intervalMs = COLLAPSE_INTERVAL_MS): number {
  return Math.max(intervalMs, PACE_FACTOR * passMs);
}

/** Collapses per pass: each copies up to 2 MiB (on the collapser's own thread). */
export const MAX_COLLAPSES_PER_PASS = 8;
const EINVAL = 22;

/** A region of guest RAM as mapped in the VMM (MappedRegion's fields). */
export interface CollapseRegion {
  readonly hostAddr: number;
  readonly size: number;
  readonly fdOffset: number;
}

export interface CollapseOps {
  /** The first memfd offset at or after `offset` that holds a page, or undefined when none does. */
  nextData(offset: number): number | undefined;
  /** MADV_COLLAPSE on [addr, addr + length): 0, or -errno. */
  collapse(addr: number, length: number): number;
  /** MADV_POPULATE_WRITE on [addr, addr + length) (a range must hold a page before it can be collapsed). */
  populate(addr: number, length: number): number;
}

export interface CollapseTotals {
  /** Ranges made huge. */
  collapsed: number;
  /** Ranges the kernel refused (each is not tried again). */
  failed: number;
}

/** True for a balloon command after which the collapser must stop: an inflate (a non-zero target), see above. */
export function stopsCollapse(command: BalloonControlCommand): boolean {
  return command.kind === "Adjust" && command.numBytes > 0;
}

/** What the passes cost the thread that ran them. */
export interface PassTimes {
  passes: number;
  totalMs: number;
  longestMs: number;
  /** The slowest single collapse, in ms (a slow one is the kernel reclaiming or compacting for the huge page). */
  longestCollapseMs?: number;
  /** Of the collapsed ranges, those collapsed ahead of the guest, and the ms that took (before the first KVM_RUN). */
  ahead?: number;
  aheadMs?: number;
  /** The ranges it was to collapse ahead. */
  aheadPlanned?: number;
}

/** The stderr line CROSVM_TRACE_STARTUP=1 prints when the collapser stops (bench/boot-time reads it). */
export function collapseSummaryLine(totals: CollapseTotals, times: PassTimes): string {
  const longest =
    times.longestCollapseMs !== undefined
      ? `, longest collapse ${times.longestCollapseMs.toFixed(1)} ms`
      : "";
  const planned = times.aheadPlanned !== undefined ? ` (of ${times.aheadPlanned} planned)` : "";
  const ahead =
    times.ahead !== undefined
      ? `; ${times.ahead} of them ahead of the guest${planned} in ${(times.aheadMs ?? 0).toFixed(1)} ms`
      : "";
  return (
    `collapse: ${totals.collapsed} ranges collapsed, ${totals.failed} refused, ${times.passes} passes, ` +
    `${times.totalMs.toFixed(1)} ms in the collapser's thread (longest pass ${times.longestMs.toFixed(1)} ms)` +
    `${longest}${ahead}\n`
  );
}

interface Range {
  readonly fdOffset: number;
  readonly hostAddr: number;
}

/** A region of guest RAM with its guest-physical address. */
export interface GuestCollapseRegion extends CollapseRegion {
  readonly guestAddr: number;
}

/**
 * How much guest RAM the collapser makes huge before the guest runs (aheadOffsets): half of RAM, at most 256 MiB.
 * This is committed at once whether or not the guest uses it (its first touches would commit most of it anyway:
 * a Debian guest of 512 MiB holds ~180 MiB at its login prompt, bench/boot-time/README.md); the rest of RAM stays
 * lazy, so `-m 12288` commits 256 MiB before the boot, not 12 GiB.
 */
export function aheadBudgetBytes(ramBytes: number): number {
  return Math.min(Math.floor(ramBytes / 2 / HUGE_PAGE_SIZE) * HUGE_PAGE_SIZE, AHEAD_MAX_BYTES);
}
export const AHEAD_MAX_BYTES = 256 * 1024 * 1024;
/**
 * How long the collapses ahead of the guest may hold up its first KVM_RUN: no new one starts after this (the one in
 * flight finishes). A collapse has to find a free 2 MiB page, and where the host must compact memory for it one
 * took up to 2 s in the nested rig (128 took 0.85 s in a fresh outer VM, 8.9 s after a few boots); each range the
 * guest then uses saves it 512 nested page faults, ~0.1 s there (bench/boot-time/README.md).
 */
export const AHEAD_MAX_MS = 1000;

/**
 * The memfd offsets of the 2 MiB ranges of `regions` that overlap the guest-physical ranges of `writes` (the
 * loader's BootLoader.bootWrites, most certain first), in that order, each once, at most `budgetBytes` of them.
 * `writes` come from our loader; the budget bounds the work and the memory.
 */
export function aheadOffsets(
  regions: readonly GuestCollapseRegion[],
  writes: readonly { start: number; end: number }[],
  budgetBytes = Number.POSITIVE_INFINITY,
): number[] {
  const out: number[] = [];
  const chosen = new Set<number>();
  const ranges = regions.flatMap((r) =>
    hugeRanges([r]).map((range) => ({
      fdOffset: range.fdOffset,
      guest: r.guestAddr + (range.fdOffset - r.fdOffset),
    })),
  );
  ranges.sort((a, b) => a.guest - b.guest);
  for (const w of writes)
    for (const range of ranges) {
      if (w.start < range.guest + HUGE_PAGE_SIZE && range.guest < w.end && !chosen.has(range.fdOffset)) {
        if ((out.length + 1) * HUGE_PAGE_SIZE > budgetBytes) return out;
        chosen.add(range.fdOffset);
        out.push(range.fdOffset);
      }
    }
  return out;
}

/** The 2 MiB ranges of `regions` that a PMD can map: host address and memfd offset both 2 MiB aligned. */
export function hugeRanges(regions: readonly CollapseRegion[]): Range[] {
  const ranges: Range[] = [];
  for (const r of regions) {
    const skip = (HUGE_PAGE_SIZE - (r.hostAddr % HUGE_PAGE_SIZE)) % HUGE_PAGE_SIZE;
    if ((r.fdOffset + skip) % HUGE_PAGE_SIZE !== 0) continue; // no range of it can be one huge page
    for (let at = skip; at + HUGE_PAGE_SIZE <= r.size; at += HUGE_PAGE_SIZE)
      ranges.push({ fdOffset: r.fdOffset + at, hostAddr: r.hostAddr + at });
  }
  return ranges.sort((a, b) => a.fdOffset - b.fdOffset);
}

export class RamCollapser {
  readonly #ranges: Range[];
  /** 1 for a range collapsed or refused: never tried again. */
  readonly #done: Uint8Array;
  #remaining: number;
  #unsupported = false;
  readonly totals: CollapseTotals = { collapsed: 0, failed: 0 };

  constructor(
    regions: readonly CollapseRegion[],
    private readonly ops: CollapseOps,
    private readonly maxPerPass = MAX_COLLAPSES_PER_PASS,
  ) {
    this.#ranges = hugeRanges(regions);
    this.#done = new Uint8Array(this.#ranges.length);
    this.#remaining = this.#ranges.length;
  }

  /** True once every range was tried, or the kernel cannot collapse shmem (then no pass does anything). */
  get finished(): boolean {
    return this.#remaining === 0 || this.#unsupported;
  }

  /** True when the first collapse failed with EINVAL: a kernel before 6.1, or shmem_enabled "deny". */
  get unsupported(): boolean {
    return this.#unsupported;
  }

  /** Collapses up to maxPerPass ranges that hold data and were not tried yet; returns how many it tried. */
  pass(): number {
    let tried = 0;
    let i = 0;
    const n = this.#ranges.length;
    while (i < n && tried < this.maxPerPass && !this.#unsupported) {
      if (this.#done[i]) {
        i++;
        continue;
      }
      const data = this.ops.nextData(this.#ranges[i]!.fdOffset);
      if (data === undefined) break;
      // The range holding `data`, or the first one after it (data in a region's unaligned head or tail).
      while (i < n && this.#ranges[i]!.fdOffset + HUGE_PAGE_SIZE <= data) i++;
      if (i === n) break;
      const range = this.#ranges[i]!;
      if (range.fdOffset > data || this.#done[i]) continue;
      this.#tryCollapse(i, range);
      tried++;
      i++;
    }
    return tried;
  }

  /**
   * Collapses the ranges at these memfd offsets now, touched or not (a range without a page gets one first):
   * memory the guest is about to write (aheadOffsets), in order, as long as `keepGoing` says so (asked before
   * each). Returns how many it tried.
   */
  ahead(fdOffsets: readonly number[], keepGoing: () => boolean = () => true): number {
    let tried = 0;
    for (const fdOffset of fdOffsets) {
      if (this.#unsupported || !keepGoing()) break;
      const i = this.#ranges.findIndex((r) => r.fdOffset === fdOffset);
      if (i < 0 || this.#done[i]) continue;
      const range = this.#ranges[i]!;
      const data = this.ops.nextData(range.fdOffset);
      if (data === undefined || data >= range.fdOffset + HUGE_PAGE_SIZE)
        this.ops.populate(range.hostAddr, PAGE_SIZE);
      this.#tryCollapse(i, range);
      tried++;
    }
    return tried;
  }

  #tryCollapse(i: number, range: Range): void {
    const ret = this.ops.collapse(range.hostAddr, HUGE_PAGE_SIZE);
    if (ret === -EINVAL && this.totals.collapsed === 0) {
      this.#unsupported = true;
      return;
    }
    this.#done[i] = 1;
    this.#remaining--;
    if (ret === 0) this.totals.collapsed++;
    else this.totals.failed++;
  }
}

/** The collapser thread's shared counters (a Float64Array), by index. */
export const CollapseCounter = {
  Collapsed: 0,
  Failed: 1,
  Passes: 2,
  TotalMs: 3,
  LongestMs: 4,
  /** 1 when the kernel cannot collapse shmem. */
  Unsupported: 5,
  /** PassTimes.longestCollapseMs. */
  LongestCollapseMs: 6,
  /** Ranges collapsed ahead of the guest (before the VMM's first KVM_RUN), and the time that took. */
  Ahead: 7,
  AheadMs: 8,
  /** The ranges it was to collapse ahead (aheadOffsets; fewer are tried when AHEAD_MAX_MS runs out). */
  AheadPlanned: 9,
} as const;
export const COLLAPSE_COUNTERS = 10;

/** The running collapser (its own thread: ram_collapse_worker.ts). */
export interface RamCollapse {
  /** Resolves once the ahead ranges are done (or the thread failed or was stopped): the guest may run then. */
  readonly ready: Promise<void>;
  /**
   * Stops it: no collapse starts after this call (a copy in flight finishes); the promise resolves once the thread
   * has said it touches guest RAM no more. Idempotent.
   */
  stop(): Promise<void>;
}

function workerUrl(): string {
  return workerEntryUrl(import.meta.url, "vmm/ram_collapse_worker.ts", "./ram_collapse_worker.ts");
}

export interface RamCollapseOptions {
  /** After the ahead ranges, go on collapsing the ranges the guest touches (--hugepages). Default true. */
  readonly running?: boolean;
  /** At most this much of `ahead` (aheadBudgetBytes). Default: no bound. */
  readonly aheadBudgetBytes?: number;
  /** No collapse ahead starts this many ms after the ranges arrived (AHEAD_MAX_MS). Default: no bound. */
  readonly aheadMaxMs?: number;
}

/**
 * Starts collapsing on a thread of its own: first the ranges overlapping `ahead` (what the guest writes early in
 * every boot, most certain first: BootLoader.bootWrites; the thread starts up meanwhile when they come as a promise,
 * e.g. while the kernel loads), touched or not, up to the budget and the time bound; `ready` resolves then.
 * When running: then one pass (the kernel and initrd the loader wrote), then one every COLLAPSE_INTERVAL_MS or more
 * (nextPassDelayMs) over the touched ranges, until every range was tried or it is stopped.
 */
export function startRamCollapse(
  memory: GuestMemory,
  ahead: readonly GuestRange[] | Promise<readonly GuestRange[]> = [],
  options: RamCollapseOptions = {},
): RamCollapse {
  const stopWord = new SharedArrayBuffer(4);
  const counterBuffer = new SharedArrayBuffer(COLLAPSE_COUNTERS * 8);
  const counters = new Float64Array(counterBuffer);
  const worker = new Worker(workerUrl());
  const stopped = Promise.withResolvers<void>();
  const ready = Promise.withResolvers<void>();
  worker.onmessage = (ev: MessageEvent<string>) => {
    ready.resolve();
    if (ev.data === "stopped") stopped.resolve();
  };
  worker.onerror = (ev: ErrorEvent) => {
    log.debug(`collapser thread failed: ${ev.message}`);
    ready.resolve();
    stopped.resolve();
  };
  const init = (ranges: readonly GuestRange[]): CollapseWorkerInit => ({
    regions: memory.regions.map((r) => ({ hostAddr: r.hostAddr, size: r.size, fdOffset: r.fdOffset })),
    memfd: memory.memfd,
    ahead: aheadOffsets(memory.regions, ranges, options.aheadBudgetBytes),
    aheadMaxMs: options.aheadMaxMs ?? Number.POSITIVE_INFINITY,
    running: options.running ?? true,
    intervalMs: COLLAPSE_INTERVAL_MS,
    maxPerPass: MAX_COLLAPSES_PER_PASS,
    stop: stopWord,
    counters: counterBuffer,
  });
  if (Array.isArray(ahead)) worker.postMessage(init(ahead as readonly GuestRange[]));
  else
    void Promise.resolve(ahead).then(
      (ranges) => worker.postMessage(init(ranges)),
      () => worker.postMessage(init([])),
    );
  // Not a reason to keep the process alive.
  worker.unref();
  let stopping: Promise<void> | undefined;
  return {
    ready: ready.promise,
    stop() {
      if (stopping) return stopping;
      Atomics.store(new Int32Array(stopWord), 0, 1);
      const totals = {
        collapsed: counters[CollapseCounter.Collapsed]!,
        failed: counters[CollapseCounter.Failed]!,
      };
      log.debug(
        counters[CollapseCounter.Unsupported]
          ? "guest RAM stays in 4 KiB pages: this kernel cannot MADV_COLLAPSE shared memory"
          : `${totals.collapsed} ranges of guest RAM collapsed into 2 MiB pages, ${totals.failed} refused`,
      );
      if (process.env.CROSVM_TRACE_STARTUP === "1")
        process.stderr.write(
          collapseSummaryLine(totals, {
            passes: counters[CollapseCounter.Passes]!,
            totalMs: counters[CollapseCounter.TotalMs]!,
            longestMs: counters[CollapseCounter.LongestMs]!,
            longestCollapseMs: counters[CollapseCounter.LongestCollapseMs]!,
            ahead: counters[CollapseCounter.Ahead]!,
            aheadMs: counters[CollapseCounter.AheadMs]!,
            aheadPlanned: counters[CollapseCounter.AheadPlanned]!,
          }),
        );
      stopping = stopped.promise.then(() => void worker.terminate());
      return stopping;
    },
  };
}
