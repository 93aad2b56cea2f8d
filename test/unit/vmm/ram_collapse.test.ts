// Guest RAM collapsed into 2 MiB pages as the guest touches it (src/vmm/ram_collapse.ts, issue 13 item 2): the
// range arithmetic and the pass logic against a fake memfd, then the real thing on this host's kernel.
import { afterEach, expect, test } from "bun:test";
import { fstatSync, readFileSync } from "node:fs";
import { punchHoles } from "../../../src/devices/virtio/balloon/device.ts";
import {
  MADV_COLLAPSE,
  MADV_POPULATE_WRITE,
  madviseRaw,
  SEEK_DATA,
  SEEK_HOLE,
  seekData,
} from "../../../ffi/libc.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { createGuestRam, releaseGuestRam } from "../../../src/vmm/guest_ram.ts";
import {
  AHEAD_MAX_BYTES,
  aheadBudgetBytes,
  collapseSummaryLine,
  HUGE_PAGE_SIZE,
  hugeRanges,
  aheadOffsets,
  nextPassDelayMs,
  PACE_FACTOR,
  RamCollapser,
  startRamCollapse,
  stopsCollapse,
  type CollapseOps,
} from "../../../src/vmm/ram_collapse.ts";

const MIB = 1 << 20;
const BASE = 0x7f00_0000_0000; // a 2 MiB aligned host address

/** A memfd holding pages at `touched` offsets; records each collapse as a memfd offset (via `regions`). */
function fakeOps(touched: number[], result = 0) {
  const collapsedAt: number[] = [];
  const seeks: number[] = [];
  const populatedAt: number[] = [];
  const ops: CollapseOps = {
    populate: (addr, length) => {
      expect(length).toBe(4096);
      populatedAt.push(addr - BASE);
      touched.push(addr - BASE);
      return 0;
    },
    nextData: (offset) => {
      seeks.push(offset);
      return touched.filter((t) => t >= offset).sort((a, b) => a - b)[0];
    },
    collapse: (addr, length) => {
      expect(length).toBe(HUGE_PAGE_SIZE);
      collapsedAt.push(addr - BASE);
      return result;
    },
  };
  return { ops, collapsedAt, seeks, populatedAt };
}

test("constants: MADV_COLLAPSE 25 and MADV_POPULATE_WRITE 23 (include/uapi/asm-generic/mman-common.h), SEEK_DATA 3 and SEEK_HOLE 4 (include/uapi/linux/fs.h), the PMD page 2 MiB", () => {
  expect([MADV_COLLAPSE, MADV_POPULATE_WRITE, SEEK_DATA, SEEK_HOLE, HUGE_PAGE_SIZE]).toEqual([
    25,
    23,
    3,
    4,
    2 * MIB,
  ]);
});

test("an aligned region of 8 MiB has four 2 MiB ranges", () => {
  const ranges = hugeRanges([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }]);

  expect(ranges.map((r) => r.fdOffset / MIB)).toEqual([0, 2, 4, 6]);
});

test("a region's unaligned head and partial tail give no range", () => {
  const ranges = hugeRanges([{ hostAddr: BASE + MIB, size: 6 * MIB, fdOffset: MIB }]);

  expect(ranges.map((r) => [r.fdOffset / MIB, (r.hostAddr - BASE) / MIB])).toEqual([
    [2, 2],
    [4, 4],
  ]);
});

test("a region whose host address and memfd offset disagree modulo 2 MiB gives no range", () => {
  expect(hugeRanges([{ hostAddr: BASE, size: 8 * MIB, fdOffset: MIB }])).toEqual([]);
});

test("a pass collapses exactly the ranges holding a touched page", () => {
  const { ops, collapsedAt } = fakeOps([3 * MIB, 3 * MIB + 4096, 9 * MIB]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 16 * MIB, fdOffset: 0 }], ops);

  collapser.pass();

  expect(collapsedAt).toEqual([2 * MIB, 8 * MIB]);
  expect(collapser.totals).toEqual({ collapsed: 2, failed: 0 });
});

test("a range is collapsed once: a second pass over the same pages collapses nothing", () => {
  const { ops, collapsedAt } = fakeOps([MIB, 5 * MIB]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }], ops);
  collapser.pass();

  collapsedAt.length = 0;
  const tried = collapser.pass();

  expect(tried).toBe(0);
  expect(collapsedAt).toEqual([]);
});

test("a pass skips the collapsed ranges without asking the memfd about them", () => {
  const touched = [0, 2 * MIB, 4 * MIB];
  const { ops, seeks } = fakeOps(touched);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }], ops);
  collapser.pass();
  seeks.length = 0;
  touched.push(6 * MIB);

  collapser.pass();

  expect(seeks).toEqual([6 * MIB]);
});

test("a pass collapses at most maxPerPass ranges; the next pass goes on", () => {
  const { ops, collapsedAt } = fakeOps([0, 2 * MIB, 4 * MIB, 6 * MIB, 8 * MIB]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 16 * MIB, fdOffset: 0 }], ops, 2);

  const first = collapser.pass();
  const firstAt = [...collapsedAt];
  collapser.pass();
  collapser.pass();

  expect(first).toBe(2);
  expect(firstAt).toEqual([0, 2 * MIB]);
  expect(collapsedAt).toEqual([0, 2, 4, 6, 8].map((m) => m * MIB));
});

test("data in a region's unaligned tail is passed over and the next region's ranges are still found", () => {
  // Region 0: 5 MiB (ranges at 0 and 2 MiB; 4..5 MiB is a tail); region 1 follows in the memfd at 6 MiB.
  const { ops, collapsedAt } = fakeOps([4 * MIB + 4096, 6 * MIB]);
  const collapser = new RamCollapser(
    [
      { hostAddr: BASE, size: 5 * MIB, fdOffset: 0 },
      { hostAddr: BASE + 6 * MIB, size: 2 * MIB, fdOffset: 6 * MIB },
    ],
    ops,
  );

  collapser.pass();

  expect(collapsedAt).toEqual([6 * MIB]);
});

test("a refused range counts as failed and is not tried again", () => {
  const { ops, collapsedAt } = fakeOps([0, 2 * MIB], -11 /* EAGAIN */);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 4 * MIB, fdOffset: 0 }], ops);

  collapser.pass();
  collapser.pass();

  expect(collapsedAt).toEqual([0, 2 * MIB]);
  expect(collapser.totals).toEqual({ collapsed: 0, failed: 2 });
  expect(collapser.finished).toBe(true);
});

test("EINVAL on the first collapse (a kernel without shmem MADV_COLLAPSE) stops the collapser", () => {
  const { ops, collapsedAt } = fakeOps([0, 2 * MIB], -22 /* EINVAL */);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }], ops);

  collapser.pass();
  collapser.pass();

  expect(collapsedAt).toEqual([0]);
  expect(collapser.unsupported).toBe(true);
  expect(collapser.finished).toBe(true);
});

test("the collapser is finished once every range was tried", () => {
  const { ops } = fakeOps([0, 2 * MIB]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 4 * MIB, fdOffset: 0 }], ops);

  collapser.pass();

  expect(collapser.finished).toBe(true);
});

test("ahead: the 2 MiB ranges overlapping a kernel's range [1 MiB, 7 MiB + 4 KiB) are those at 0, 2, 4 and 6 MiB", () => {
  const offsets = aheadOffsets(
    [{ guestAddr: 0, hostAddr: BASE, size: 16 * MIB, fdOffset: 0 }],
    [{ start: MIB, end: 7 * MIB + 4096 }],
  );

  expect(offsets.map((o) => o / MIB)).toEqual([0, 2, 4, 6]);
});

test("ahead: a range of a region above 4 GiB is found at its own memfd offset", () => {
  const offsets = aheadOffsets(
    [
      { guestAddr: 0, hostAddr: BASE, size: 8 * MIB, fdOffset: 0 },
      { guestAddr: 4 * 1024 * MIB, hostAddr: BASE + 8 * MIB, size: 8 * MIB, fdOffset: 8 * MIB },
    ],
    [{ start: 4 * 1024 * MIB + 2 * MIB, end: 4 * 1024 * MIB + 3 * MIB }],
  );

  expect(offsets.map((o) => o / MIB)).toEqual([10]);
});

test("ahead: nothing outside guest RAM is chosen", () => {
  const offsets = aheadOffsets(
    [{ guestAddr: 0, hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }],
    [{ start: 64 * MIB, end: 128 * MIB }],
  );

  expect(offsets).toEqual([]);
});

test("ahead: the ranges come in the order of the writes, each once", () => {
  const offsets = aheadOffsets(
    [{ guestAddr: 0, hostAddr: BASE, size: 16 * MIB, fdOffset: 0 }],
    [
      { start: 12 * MIB, end: 14 * MIB },
      { start: 2 * MIB, end: 4 * MIB },
      { start: 0, end: 16 * MIB },
    ],
  );

  expect(offsets.map((o) => o / MIB)).toEqual([12, 2, 0, 4, 6, 8, 10, 14]);
});

test("ahead: no more ranges than the budget allows, the first writes first", () => {
  const offsets = aheadOffsets(
    [{ guestAddr: 0, hostAddr: BASE, size: 16 * MIB, fdOffset: 0 }],
    [
      { start: 12 * MIB, end: 16 * MIB },
      { start: 0, end: 16 * MIB },
    ],
    6 * MIB,
  );

  expect(offsets.map((o) => o / MIB)).toEqual([12, 14, 0]);
});

test("the ahead budget is half of RAM in whole 2 MiB ranges, at most 256 MiB", () => {
  expect([512, 12 * 1024, 3].map((mib) => aheadBudgetBytes(mib * MIB) / MIB)).toEqual([256, 256, 0]);
  expect(AHEAD_MAX_BYTES).toBe(256 * MIB);
});

test("ahead collapses untouched ranges after giving each one page, and touched ones as they are", () => {
  const { ops, collapsedAt, populatedAt } = fakeOps([2 * MIB + 4096]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }], ops);

  const tried = collapser.ahead([0, 2 * MIB]);

  expect(tried).toBe(2);
  expect(populatedAt).toEqual([0]);
  expect(collapsedAt).toEqual([0, 2 * MIB]);
});

test("ahead stops at the first range once it is told to stop going on", () => {
  const { ops, collapsedAt } = fakeOps([0, 2 * MIB, 4 * MIB]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 8 * MIB, fdOffset: 0 }], ops);
  let asked = 0;

  const tried = collapser.ahead([4 * MIB, 0, 2 * MIB], () => ++asked <= 2);

  expect(tried).toBe(2);
  expect(collapsedAt).toEqual([4 * MIB, 0]);
});

test("a range collapsed ahead is not collapsed again by a pass", () => {
  const { ops, collapsedAt } = fakeOps([]);
  const collapser = new RamCollapser([{ hostAddr: BASE, size: 4 * MIB, fdOffset: 0 }], ops);
  collapser.ahead([2 * MIB]);

  collapser.pass();

  expect(collapsedAt).toEqual([2 * MIB]);
});

test("a balloon inflate (a non-zero target) stops the collapser", () => {
  expect(stopsCollapse({ kind: "Adjust", numBytes: 4096, waitForSuccess: false })).toBe(true);
});

test("deflating the balloon to zero and asking for its statistics leave the collapser running", () => {
  expect([
    stopsCollapse({ kind: "Adjust", numBytes: 0, waitForSuccess: false }),
    stopsCollapse({ kind: "Stats" }),
  ]).toEqual([false, false]);
});

test("the summary line names the ranges, the passes and the collapser thread's time", () => {
  const line = collapseSummaryLine(
    { collapsed: 200, failed: 1 },
    { passes: 90, totalMs: 812.34, longestMs: 41.2 },
  );

  expect(line).toBe(
    "collapse: 200 ranges collapsed, 1 refused, 90 passes, 812.3 ms in the collapser's thread (longest pass 41.2 ms)\n",
  );
});

test("a quick pass is followed by the interval, a slow one by PACE_FACTOR times its duration", () => {
  expect([nextPassDelayMs(3, 100), nextPassDelayMs(80, 100)]).toEqual([100, 80 * PACE_FACTOR]);
});

test("the summary line names the ranges collapsed ahead of the guest, of how many planned, and their time", () => {
  const line = collapseSummaryLine(
    { collapsed: 40, failed: 0 },
    { passes: 0, totalMs: 0, longestMs: 0, ahead: 40, aheadMs: 1002.94, aheadPlanned: 128 },
  );

  expect(line).toEndWith("; 40 of them ahead of the guest (of 128 planned) in 1002.9 ms\n");
});

test("the summary line names the slowest single collapse when it is known", () => {
  const line = collapseSummaryLine(
    { collapsed: 12, failed: 0 },
    { passes: 5, totalMs: 900, longestMs: 700, longestCollapseMs: 612.4 },
  );

  expect(line).toEndWith("(longest pass 700.0 ms), longest collapse 612.4 ms\n");
});

// On this host's kernel (MADV_COLLAPSE of shmem needs Linux 6.1; it ignores shmem_enabled unless "deny").
let memory: GuestMemory | undefined;
afterEach(() => {
  if (memory) releaseGuestRam(memory);
  memory = undefined;
});

/** ShmemPmdMapped of the mapping at `hostAddr`, in kB, from /proc/self/smaps. */
function shmemPmdMappedKb(hostAddr: number): number {
  const block = readFileSync("/proc/self/smaps", "utf8")
    .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
    .find((b) => b.startsWith(`${hostAddr.toString(16)}-`));
  return Number(/ShmemPmdMapped:\s+(\d+) kB/.exec(block ?? "")?.[1] ?? -1);
}

test("guest RAM regions are mapped at 2 MiB aligned host addresses", () => {
  memory = createGuestRam(
    [
      { guestAddr: 0, size: 6 * MIB },
      { guestAddr: 1 << 30, size: 4 * MIB },
    ],
    { name: "align_test" },
  );

  expect(memory.regions.map((r) => r.hostAddr % HUGE_PAGE_SIZE)).toEqual([0, 0]);
});

test("SEEK_DATA on the guest-RAM memfd finds the first touched page and undefined past the last", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "seek_test" });
  memory.writeU8(5 * MIB + 100, 1);

  expect(seekData(memory.memfd, 0, "test")).toBe(5 * MIB);
  expect(seekData(memory.memfd, 6 * MIB, "test")).toBeUndefined();
});

const collapseWorks = (() => {
  const probe = createGuestRam([{ guestAddr: 0, size: 2 * MIB }], { name: "probe" });
  probe.writeU8(0, 1);
  const ok = madviseRaw(probe.regions[0]!.hostAddr, 2 * MIB, MADV_COLLAPSE) === 0;
  releaseGuestRam(probe);
  return ok;
})();

test.if(collapseWorks)(
  "touched ranges of real guest RAM become PMD-mapped huge pages and keep their bytes",
  () => {
    memory = createGuestRam([{ guestAddr: 0, size: 16 * MIB }], { name: "collapse_test" });
    const mem = memory;
    mem.writeU32(3 * MIB, 0xfeed_f00d);
    mem.writeU32(12 * MIB + 8, 0x1234_5678);
    const collapser = new RamCollapser(mem.regions, {
      nextData: (o) => seekData(mem.memfd, o, "test"),
      collapse: (a, l) => madviseRaw(a, l, MADV_COLLAPSE),
      populate: (a, l) => madviseRaw(a, l, MADV_POPULATE_WRITE),
    });

    collapser.pass();

    expect(collapser.totals).toEqual({ collapsed: 2, failed: 0 });
    expect(shmemPmdMappedKb(mem.regions[0]!.hostAddr)).toBe(4096);
    expect([mem.readU32(3 * MIB), mem.readU32(12 * MIB + 8), mem.readU32(2 * MIB)]).toEqual([
      0xfeed_f00d, 0x1234_5678, 0,
    ]);
  },
);

test.if(collapseWorks)(
  "a 4 KiB page the balloon punches out of a collapsed range goes back to the host and stays back",
  () => {
    memory = createGuestRam([{ guestAddr: 0, size: 4 * MIB }], { name: "collapse_punch_test" });
    const mem = memory;
    mem.slice(0, 2 * MIB).fill(0x5a);
    const collapser = new RamCollapser(mem.regions, {
      nextData: (o) => seekData(mem.memfd, o, "test"),
      collapse: (a, l) => madviseRaw(a, l, MADV_COLLAPSE),
      populate: (a, l) => madviseRaw(a, l, MADV_POPULATE_WRITE),
    });
    collapser.pass();
    const before = fstatSync(mem.memfd).blocks * 512;

    punchHoles(mem, [{ offset: MIB, length: 4096 }]);
    collapser.pass();

    expect(before - fstatSync(mem.memfd).blocks * 512).toBe(4096);
    expect([mem.readU8(MIB), mem.readU8(MIB + 4096)]).toEqual([0, 0x5a]);
  },
);

/** Polls `done` every 20 ms for up to `ms`. */
async function eventually(done: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = performance.now() + ms; performance.now() < end; await Bun.sleep(20))
    if (done()) return true;
  return done();
}

test.if(collapseWorks)("the collapser's own thread collapses a range the guest touched", async () => {
  memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_thread_test" });
  const mem = memory;
  mem.writeU32(2 * MIB + 64, 0xabcd_0123);
  const collapse = startRamCollapse(mem);

  const huge = await eventually(() => shmemPmdMappedKb(mem.regions[0]!.hostAddr) === 2048);
  await collapse.stop();

  expect(huge).toBe(true);
  expect(mem.readU32(2 * MIB + 64)).toBe(0xabcd_0123);
});

test.if(collapseWorks)(
  "a collapser that is not running is ready with its ahead range huge and collapses nothing the guest touches later",
  async () => {
    memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_ready_test" });
    const mem = memory;
    const collapse = startRamCollapse(mem, [{ start: 2 * MIB, end: 4 * MIB }], { running: false });

    await collapse.ready;
    const hugeWhenReady = shmemPmdMappedKb(mem.regions[0]!.hostAddr);
    mem.writeU8(6 * MIB, 1);
    await Bun.sleep(300); // three collapse intervals
    await collapse.stop();

    expect(hugeWhenReady).toBe(2048);
    expect(shmemPmdMappedKb(mem.regions[0]!.hostAddr)).toBe(2048);
  },
);

test.if(collapseWorks)(
  "ranges that come as a promise (the thread starts while the kernel loads) are collapsed once it resolves",
  async () => {
    memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_later_test" });
    const mem = memory;
    const ranges = Promise.withResolvers<{ start: number; end: number }[]>();
    const collapse = startRamCollapse(mem, ranges.promise, { running: false });
    await Bun.sleep(50);
    const hugeBefore = shmemPmdMappedKb(mem.regions[0]!.hostAddr);

    ranges.resolve([{ start: 4 * MIB, end: 6 * MIB }]);
    await collapse.ready;
    const hugeAfter = shmemPmdMappedKb(mem.regions[0]!.hostAddr);
    await collapse.stop();

    expect([hugeBefore, hugeAfter]).toEqual([0, 2048]);
  },
);

test.if(collapseWorks)(
  "with no time left for collapses ahead, the thread is ready having collapsed none",
  async () => {
    memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_no_time_test" });
    const mem = memory;
    const collapse = startRamCollapse(mem, [{ start: 0, end: 8 * MIB }], { running: false, aheadMaxMs: 0 });

    await collapse.ready;
    const huge = shmemPmdMappedKb(mem.regions[0]!.hostAddr);
    await collapse.stop();

    expect(huge).toBe(0);
  },
);

test.if(collapseWorks)(
  "once stop() has resolved, a range touched afterwards stays in 4 KiB pages",
  async () => {
    memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_stop_test" });
    const mem = memory;
    const collapse = startRamCollapse(mem);
    await collapse.stop();

    mem.writeU8(4 * MIB, 1);
    await Bun.sleep(300); // three collapse intervals

    expect(shmemPmdMappedKb(mem.regions[0]!.hostAddr)).toBe(0);
  },
);

test.if(collapseWorks)(
  "a range of real guest RAM collapsed ahead is a PMD-mapped huge page before the guest writes it",
  () => {
    memory = createGuestRam([{ guestAddr: 0, size: 8 * MIB }], { name: "collapse_ahead_test" });
    const mem = memory;
    const collapser = new RamCollapser(mem.regions, {
      nextData: (o) => seekData(mem.memfd, o, "test"),
      collapse: (a, l) => madviseRaw(a, l, MADV_COLLAPSE),
      populate: (a, l) => madviseRaw(a, l, MADV_POPULATE_WRITE),
    });

    collapser.ahead([4 * MIB]);

    expect(collapser.totals).toEqual({ collapsed: 1, failed: 0 });
    expect(shmemPmdMappedKb(mem.regions[0]!.hostAddr)).toBe(2048);
    expect(mem.readU32(4 * MIB)).toBe(0);
  },
);
