// The thread of the guest-RAM collapser (ram_collapse.ts): first the ahead ranges (then it posts "ready": the VMM runs
// no vCPU before that), then, when running (--hugepages), one pass, then one every intervalMs or more (nextPassDelayMs
// paces it), each pass at most maxPerPass MADV_COLLAPSE calls, so that the copies (up to 2 MiB each) never hold up the
// VMM's main thread, which answers the vCPUs' PCI configuration accesses. madvise and lseek act on the process's memory
// and memfd, so this thread needs only the numbers: the regions' host addresses and the memfd. The owner stops it
// through a shared word, read before every pass and every collapse (the copy in flight finishes), and reads the totals
// from shared counters; the thread posts "stopped" once it will touch guest RAM no more.
import { MADV_COLLAPSE, MADV_POPULATE_WRITE, madviseRaw, seekData } from "../../ffi/libc.ts";
import {
  type CollapseRegion,
  COLLAPSE_COUNTERS,
  CollapseCounter,
  nextPassDelayMs,
  RamCollapser,
} from "./ram_collapse.ts";

/** What the owner sends once, right after creating the Worker. */
export interface CollapseWorkerInit {
  readonly regions: readonly CollapseRegion[];
  readonly memfd: number;
  /** Memfd offsets of ranges to collapse first, touched or not (aheadOffsets); "ready" is posted after them. */
  readonly ahead: readonly number[];
  /** No ahead collapse starts this many ms after this message arrived (Infinity: no bound). */
  readonly aheadMaxMs: number;
  /** After the ahead ranges: pass over the touched ranges until stopped (--hugepages), or end at once. */
  readonly running: boolean;
  readonly intervalMs: number;
  readonly maxPerPass: number;
  /** Int32Array[1]: non-zero = stop. */
  readonly stop: SharedArrayBuffer;
  /** Float64Array[COLLAPSE_COUNTERS], indexed by CollapseCounter. */
  readonly counters: SharedArrayBuffer;
}

declare const self: Worker;

self.onmessage = (ev: MessageEvent<CollapseWorkerInit>) => {
  self.onmessage = null;
  const init = ev.data;
  const stop = new Int32Array(init.stop);
  const counters = new Float64Array(init.counters, 0, COLLAPSE_COUNTERS);
  const stopped = () => Atomics.load(stop, 0) !== 0;
  const collapser = new RamCollapser(
    init.regions,
    {
      nextData: (offset) => seekData(init.memfd, offset, "the guest memory memfd"),
      collapse: (addr, length) => {
        if (stopped()) throw new Error("stopped");
        const started = performance.now();
        const ret = madviseRaw(addr, length, MADV_COLLAPSE);
        const ms = performance.now() - started;
        counters[CollapseCounter.LongestCollapseMs] = Math.max(
          counters[CollapseCounter.LongestCollapseMs]!,
          ms,
        );
        return ret;
      },
      populate: (addr, length) => madviseRaw(addr, length, MADV_POPULATE_WRITE),
    },
    init.maxPerPass,
  );
  let first = true;
  const end = () => {
    counters[CollapseCounter.Unsupported] = collapser.unsupported ? 1 : 0;
    postMessage("ready");
    postMessage("stopped");
  };
  const count = () => {
    counters[CollapseCounter.Collapsed] = collapser.totals.collapsed;
    counters[CollapseCounter.Failed] = collapser.totals.failed;
  };
  const step = () => {
    if (stopped()) return end();
    let started = performance.now();
    try {
      if (first) {
        counters[CollapseCounter.AheadPlanned] = init.ahead.length;
        collapser.ahead(init.ahead, () => performance.now() - started < init.aheadMaxMs);
        count();
        counters[CollapseCounter.Ahead] = collapser.totals.collapsed;
        counters[CollapseCounter.AheadMs] = performance.now() - started;
        postMessage("ready");
        first = false;
        if (!init.running) return end();
        started = performance.now();
      }
      collapser.pass();
    } catch {
      // Stopped: the pass's counters are not kept.
      return end();
    }
    const ms = performance.now() - started;
    count();
    counters[CollapseCounter.Passes]! += 1;
    counters[CollapseCounter.TotalMs]! += ms;
    counters[CollapseCounter.LongestMs] = Math.max(counters[CollapseCounter.LongestMs]!, ms);
    if (collapser.finished) return end();
    setTimeout(step, nextPassDelayMs(ms, init.intervalMs));
  };
  step();
};
