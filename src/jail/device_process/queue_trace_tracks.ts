// --trace-file, VMM side of the queue trace: a device's EventQueueTrace messages (protocol.ts; cut by
// src/devices/virtio/queue_trace.ts in the device process) become one complete event ("X") per queue and slice,
// on a track per device and queue named "<device label> queue <i>", named "<N> requests" ("1 request") with args
// {requests, mean_us, max_us}. The sender may be a compromised device process: a message that does not decode
// and a slice that names a queue the device does not have or carries impossible numbers are refused and counted,
// and at most `cap` slices per device are kept (MAX_QUEUE_SLICES_PER_DEVICE); the rest are counted. The counts,
// with the slices the device itself dropped, are one instant event on the device's track when the file is written.
import { epochToTraceUs, TRACE_TID, type TraceRecorder } from "../../base/trace_events.ts";
import type { QueueSlice } from "../../devices/virtio/queue_trace.ts";
import { decodeQueueTrace } from "./protocol.ts";

/**
 * Slices kept per device: a queue busy in every 50 ms slice for 40 minutes. Each is one event of the recorder
 * (a few hundred bytes), so a device cannot make the VMM hold more than some ten MiB of them.
 */
export const MAX_QUEUE_SLICES_PER_DEVICE = 50_000;

const round1 = (n: number) => Math.round(n * 10) / 10;

export class QueueTraceTracks {
  readonly #named = new Set<number>();
  #kept = 0;
  #overCap = 0;
  #droppedInDevice = 0;
  #refused = 0;

  constructor(
    readonly trace: TraceRecorder,
    /** The device's number in the trace (TRACE_TID.device), and its label. */
    readonly device: number,
    readonly label: string,
    readonly queueCount: number,
    readonly sliceMs: number,
    readonly cap = MAX_QUEUE_SLICES_PER_DEVICE,
  ) {
    trace.beforeWrite(() => this.#summarize());
  }

  /** Slices recorded so far. */
  get kept(): number {
    return this.#kept;
  }

  /** One EventQueueTrace message from the device. Never throws. */
  accept(msg: Uint8Array): void {
    let decoded: { dropped: number; slices: QueueSlice[] };
    try {
      decoded = decodeQueueTrace(msg);
    } catch {
      this.#refused++;
      return;
    }
    this.#droppedInDevice += decoded.dropped;
    for (const s of decoded.slices) {
      if (!this.#plausible(s)) this.#refused++;
      else if (this.#kept >= this.cap) this.#overCap++;
      else {
        this.#kept++;
        this.#record(s);
      }
    }
  }

  #plausible(s: QueueSlice): boolean {
    return (
      s.queue < this.queueCount &&
      s.requests > 0 &&
      Number.isFinite(s.startMs) &&
      s.startMs >= 0 &&
      Number.isFinite(s.totalUs) &&
      Number.isFinite(s.maxUs) &&
      s.maxUs >= 0 &&
      s.maxUs <= s.totalUs
    );
  }

  #record(s: QueueSlice): void {
    const tid = TRACE_TID.queue(this.device, s.queue);
    if (!this.#named.has(s.queue)) {
      this.#named.add(s.queue);
      this.trace.threadName(tid, `${this.label} queue ${s.queue}`);
    }
    this.trace.span(
      "queue",
      s.requests === 1 ? "1 request" : `${s.requests} requests`,
      epochToTraceUs(s.startMs),
      this.sliceMs * 1000,
      tid,
      {
        requests: s.requests,
        mean_us: round1(s.totalUs / s.requests),
        max_us: round1(s.maxUs),
      },
    );
  }

  #summarize(): void {
    if (this.#overCap + this.#droppedInDevice + this.#refused === 0) return;
    this.trace.instant("device", `${this.label} queue slices lost`, TRACE_TID.device(this.device), {
      over_cap: this.#overCap,
      dropped_in_device: this.#droppedInDevice,
      refused: this.#refused,
    });
  }
}
