// --trace-file, device side: per queue and per time slice, how many chains the device completed and how long each
// took, from its start to the used-ring update (Queue.addUsed). A chain starts at the ioeventfd wake that made the
// device pop it (`notified`; a chain left for later by the batch limit of process_queue.ts keeps that first wake),
// or, when the device popped it on its own input (a TAP frame, console input, an input event), at the pop; a
// chain the device holds until it has something to put in it (the balloon's stats buffer) counts that wait. A request that completes later (block I/O on io_uring) counts when it reaches the used
// ring. Slices are a fixed grid of `sliceMs` over the wall clock (slice k covers [k*sliceMs, (k+1)*sliceMs) ms since
// the epoch), so every process cuts the same slices; only slices with a completion are kept.
//
// Off by default: a Queue holds a QueueTrace only when the device process was started with a slice length (the VMM
// traces), and without one its pop and addUsed paths make no call and read no clock (split_queue.ts).

/** One queue's completions during one slice. */
export interface QueueSlice {
  readonly queue: number;
  /** Wall clock (ms since the epoch) at the slice's start; the slice lasts the trace's slice length. */
  readonly startMs: number;
  readonly requests: number;
  /** Sum and largest of the requests' latencies, in µs. */
  readonly totalUs: number;
  readonly maxUs: number;
}

/** Wall clock in ms since the epoch, with the sub-millisecond part of performance.now(). */
export const epochMs = () => performance.timeOrigin + performance.now();

/**
 * Slices a device process keeps between two sends to the VMM (host.ts sends about once a second). 20 slices a
 * second per busy queue leave room for 100 busy queues; past the cap, slices are dropped and counted.
 */
export const MAX_PENDING_SLICES = 2048;

/** The trace of one queue during one activation; Queue calls `popped` and `used`. */
export class QueueTrace {
  /** Start time (epoch ms) of the chain with head h at index h; NaN when none is open. */
  readonly #starts: Float64Array;
  /** The ioeventfd wake the current notification began with; NaN outside a notification. */
  #wokeAt = Number.NaN;
  /** The last notification stopped at the batch limit: its wake still stands for the chains left. */
  #carry = false;
  #slice = -1;
  #requests = 0;
  #totalUs = 0;
  #maxUs = 0;

  constructor(
    readonly queue: number,
    maxSize: number,
    readonly owner: DeviceQueueTrace,
  ) {
    this.#starts = new Float64Array(maxSize).fill(Number.NaN);
  }

  /** The queue's ioeventfd woke the device at `at` (epoch ms). */
  notified(at: number): void {
    if (!this.#carry) this.#wokeAt = at;
    this.#carry = false;
  }

  /** The device is done with the notification; `batchLimited`: it left chains for the next round. */
  settled(batchLimited: boolean): void {
    if (batchLimited) this.#carry = true;
    else this.#wokeAt = Number.NaN;
  }

  /** The device popped the chain with head `head`. */
  popped(head: number): void {
    if (head >= this.#starts.length) return;
    this.#starts[head] = Number.isNaN(this.#wokeAt) ? this.owner.clock() : this.#wokeAt;
  }

  /**
   * The device put `head` into the used ring. A head that was not popped (the driver offered it twice and it was
   * already returned) counts as a request of no duration.
   */
  used(head: number): void {
    const now = this.owner.clock();
    const start = head < this.#starts.length ? this.#starts[head]! : Number.NaN;
    if (head < this.#starts.length) this.#starts[head] = Number.NaN;
    const us = Number.isNaN(start) ? 0 : Math.max(0, (now - start) * 1000);
    const slice = Math.floor(now / this.owner.sliceMs);
    if (slice !== this.#slice) {
      this.close();
      this.#slice = slice;
    }
    this.#requests++;
    this.#totalUs += us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  /** Whether a slice with completions is still open. */
  get open(): boolean {
    return this.#requests > 0;
  }

  /** Hands the open slice to the owner if it ended before slice `before` (all of it without an argument). */
  close(before = Number.POSITIVE_INFINITY): void {
    if (this.#requests === 0 || this.#slice >= before) return;
    this.owner.keep({
      queue: this.queue,
      startMs: this.#slice * this.owner.sliceMs,
      requests: this.#requests,
      totalUs: this.#totalUs,
      maxUs: this.#maxUs,
    });
    this.#requests = 0;
    this.#totalUs = 0;
    this.#maxUs = 0;
  }
}

/** A device's queue traces and the finished slices not yet sent, at most `maxPending` of them. */
export class DeviceQueueTrace {
  readonly #queues = new Map<number, QueueTrace>();
  #pending: QueueSlice[] = [];
  #dropped = 0;

  constructor(
    readonly sliceMs: number,
    /** Epoch ms; tests pass a fake clock. */
    readonly clock: () => number = epochMs,
    readonly maxPending = MAX_PENDING_SLICES,
  ) {
    if (!(sliceMs > 0)) throw new Error(`trace slice length ${sliceMs} ms is not positive`);
  }

  /** A fresh trace for queue `index` at an activation; the previous one's open slice is kept. */
  forQueue(index: number, maxSize: number): QueueTrace {
    this.#queues.get(index)?.close();
    const trace = new QueueTrace(index, maxSize, this);
    this.#queues.set(index, trace);
    return trace;
  }

  keep(slice: QueueSlice): void {
    if (this.#pending.length < this.maxPending) this.#pending.push(slice);
    else this.#dropped++;
  }

  /** Slices kept or still open. */
  get hasData(): boolean {
    if (this.#pending.length > 0) return true;
    for (const q of this.#queues.values()) if (q.open) return true;
    return false;
  }

  /**
   * The slices that ended by `now` (epoch ms; every open one when `now` is undefined, at exit), oldest first per
   * queue, and how many were dropped since the last take; both are cleared.
   */
  take(now?: number): { slices: QueueSlice[]; dropped: number } {
    const before = now === undefined ? undefined : Math.floor(now / this.sliceMs);
    for (const q of this.#queues.values()) q.close(before);
    const out = { slices: this.#pending, dropped: this.#dropped };
    this.#pending = [];
    this.#dropped = 0;
    return out;
  }
}
