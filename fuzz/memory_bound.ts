// How much memory a fuzz target may keep: what is live after a full collection (JS heap plus the memory of
// ArrayBuffers and other external objects) may grow by at most `limitBytes` over the run — a leak or an unbounded
// cache fails it. RSS is not used: in a bun test process shared with other test files it also grows with their
// garbage and with the allocator's fragmentation, which say nothing about the target.
const MiB = 1024 * 1024;

function liveBytes(): number {
  Bun.gc(true);
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

export class MemoryBound {
  readonly #start = liveBytes();

  constructor(private readonly limitBytes = 256 * MiB) {}

  /** The failure to record at `iteration`, or undefined while live memory is within the bound. */
  check(iteration: number): string | undefined {
    const grown = liveBytes() - this.#start;
    return grown > this.limitBytes
      ? `iteration ${iteration}: ${Math.round(grown / MiB)} MiB more live memory than at the start (limit ${this.limitBytes / MiB} MiB)`
      : undefined;
  }
}
