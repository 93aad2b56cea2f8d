// The stats queue's buffer (virtio 1.2 5.5.6.3): packed { le16 tag; le64 val; } entries, mapped to crosvm's
// BalloonStats fields.
import { expect, test } from "bun:test";
import {
  MAX_STATS_BYTES,
  emptyBalloonStats,
  parseBalloonStats,
} from "../../../../src/devices/virtio/balloon/stats.ts";

function entries(list: readonly [number, bigint][]): Uint8Array {
  const out = new Uint8Array(10 * list.length);
  const v = new DataView(out.buffer);
  list.forEach(([tag, val], i) => {
    v.setUint16(10 * i, tag, true);
    v.setBigUint64(10 * i + 2, val, true);
  });
  return out;
}

test("each standard tag fills its field; the ones not reported stay null", () => {
  const stats = parseBalloonStats(
    entries([
      [0, 1n],
      [1, 2n],
      [2, 3n],
      [3, 4n],
      [4, 100n << 20n],
      [5, 256n << 20n],
      [6, 150n << 20n],
      [7, 30n << 20n],
      [8, 5n],
      [9, 6n],
    ]),
  );

  expect(stats).toEqual({
    swapIn: 1,
    swapOut: 2,
    majorFaults: 3,
    minorFaults: 4,
    freeMemory: 100 * 2 ** 20,
    totalMemory: 256 * 2 ** 20,
    availableMemory: 150 * 2 ** 20,
    diskCaches: 30 * 2 ** 20,
    hugetlbAllocations: 5,
    hugetlbFailures: 6,
    sharedMemory: null,
    unevictableMemory: null,
  });
});

test("crosvm's non-standard tags 65534 and 65535 are shared and unevictable memory", () => {
  const stats = parseBalloonStats(
    entries([
      [65534, 7n],
      [65535, 8n],
    ]),
  );

  expect([stats.sharedMemory, stats.unevictableMemory]).toEqual([7, 8]);
});

test("unknown tags (Linux's OOM kills, reclaim counters) are skipped", () => {
  const stats = parseBalloonStats(
    entries([
      [10, 99n],
      [15, 98n],
      [4, 4096n],
    ]),
  );

  expect(stats).toEqual({ ...emptyBalloonStats(), freeMemory: 4096 });
});

test("a trailing partial entry is ignored", () => {
  const bytes = new Uint8Array([...entries([[5, 1024n]]), 4, 0, 1]);

  expect(parseBalloonStats(bytes)).toEqual({ ...emptyBalloonStats(), totalMemory: 1024 });
});

test("entries past MAX_STATS_BYTES are not looked at", () => {
  const filler = Array.from({ length: MAX_STATS_BYTES / 10 }, () => [10, 0n] as [number, bigint]);

  const stats = parseBalloonStats(entries([...filler, [4, 1n]]));

  expect(stats.freeMemory).toBeNull();
});
