import { describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { epochToTraceUs, TRACE_TID, TraceRecorder } from "../../../src/base/trace_events.ts";
import type { QueueSlice } from "../../../src/devices/virtio/queue_trace.ts";
import { encodeQueueTrace } from "../../../src/jail/device_process/protocol.ts";
import { QueueTraceTracks } from "../../../src/jail/device_process/queue_trace_tracks.ts";

const START_MS = performance.timeOrigin + 500;
const slice = (over: Partial<QueueSlice> = {}): QueueSlice => ({
  queue: 1,
  startMs: START_MS,
  requests: 4,
  totalUs: 1000,
  maxUs: 400,
  ...over,
});

/** Tracks of device 2 ("virtio-blk", 2 queues, 50 ms slices) keeping at most `cap` slices. */
function tracks(cap?: number) {
  const trace = new TraceRecorder(join(tmpdir(), "unused-trace.json"));
  return { trace, tracks: new QueueTraceTracks(trace, 2, "virtio-blk", 2, 50, cap) };
}

const send = (t: QueueTraceTracks, slices: QueueSlice[], dropped = 0) =>
  encodeQueueTrace(slices, dropped).forEach((m) => t.accept(m));

describe("QueueTraceTracks", () => {
  test("a slice is a complete event on the queue's track with its count, mean and maximum", () => {
    const { trace, tracks: t } = tracks();

    send(t, [slice()]);

    expect(trace.events).toEqual([
      {
        name: "4 requests",
        cat: "queue",
        ph: "X",
        ts: epochToTraceUs(START_MS),
        dur: 50_000,
        pid: process.pid,
        tid: TRACE_TID.queue(2, 1),
        args: { requests: 4, mean_us: 250, max_us: 400 },
      },
    ]);
  });

  test("the queue's track is named after the device and the queue", () => {
    const { trace, tracks: t } = tracks();

    send(t, [slice()]);

    const json = JSON.parse(trace.toJson());
    expect(json.traceEvents).toContainEqual(
      expect.objectContaining({ ph: "M", tid: TRACE_TID.queue(2, 1), args: { name: "virtio-blk queue 1" } }),
    );
  });

  test("a slice of a queue the device does not have is refused and counted", () => {
    const { trace, tracks: t } = tracks();

    send(t, [slice({ queue: 2 })]);

    expect(t.kept).toBe(0);
    expect(JSON.parse(trace.toJson()).traceEvents).toContainEqual(
      expect.objectContaining({
        name: "virtio-blk queue slices lost",
        args: expect.objectContaining({ refused: 1 }),
      }),
    );
  });

  test("a slice whose maximum exceeds its total is refused", () => {
    const { tracks: t } = tracks();

    send(t, [slice({ maxUs: 2000 })]);

    expect(t.kept).toBe(0);
  });

  test("a message that does not decode is refused", () => {
    const { trace, tracks: t } = tracks();

    t.accept(Uint8Array.of(0x44, 0, 0, 0, 0, 9, 0));

    expect(trace.events).toEqual([]);
  });

  test("past the cap slices are counted, not kept", () => {
    const { trace, tracks: t } = tracks(3);

    send(
      t,
      Array.from({ length: 5 }, () => slice()),
    );

    expect(t.kept).toBe(3);
    expect(JSON.parse(trace.toJson()).traceEvents).toContainEqual(
      expect.objectContaining({ args: { over_cap: 2, dropped_in_device: 0, refused: 0 } }),
    );
  });

  test("slices the device dropped are reported on the device's track", () => {
    const { trace, tracks: t } = tracks();

    send(t, [], 7);

    expect(JSON.parse(trace.toJson()).traceEvents).toContainEqual(
      expect.objectContaining({
        tid: TRACE_TID.device(2),
        args: { over_cap: 0, dropped_in_device: 7, refused: 0 },
      }),
    );
  });

  test("a device that lost nothing adds no summary", () => {
    const { trace, tracks: t } = tracks();

    send(t, [slice()]);

    expect(JSON.parse(trace.toJson()).traceEvents.filter((e: { ph: string }) => e.ph === "i")).toEqual([]);
  });
});
