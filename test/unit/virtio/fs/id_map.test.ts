import { describe, expect, test } from "bun:test";
import { IdMap, OVERFLOW_ID, parseIdMap } from "../../../../src/devices/virtio/fs/id_map.ts";

describe("uid/gid maps", () => {
  test('"inner outer count" lists parse into ranges', () => {
    expect(parseIdMap("0 1000 1,1 100000 65536")).toEqual([
      { inner: 0, outer: 1000, count: 1 },
      { inner: 1, outer: 100000, count: 65536 },
    ]);
  });

  test("a range that is not three unsigned integers is refused with the part named", () => {
    expect(parseIdMap("0 1000")).toContain('"0 1000" is not "inner outer count"');
  });

  test("overlapping inner ranges are refused", () => {
    expect(parseIdMap("0 1000 10,5 2000 1")).toContain("overlaps another range's inner ids");
  });

  test("a zero count is refused", () => {
    expect(parseIdMap("0 1000 0")).toContain("count must be at least 1");
  });

  test("guest ids map to host ids and back", () => {
    const m = new IdMap([
      { inner: 0, outer: 1000, count: 1 },
      { inner: 1, outer: 100000, count: 10 },
    ]);
    expect([m.toHost(0), m.toHost(3), m.toGuest(1000), m.toGuest(100009)]).toEqual([1000, 100002, 0, 10]);
  });

  test("an unmapped guest id is -1 and an unmapped host id shows as the overflow id", () => {
    const m = new IdMap([{ inner: 0, outer: 1000, count: 1 }]);
    expect([m.toHost(5), m.toGuest(0)]).toEqual([-1, OVERFLOW_ID]);
  });

  test("without a map ids pass through", () => {
    const m = new IdMap(undefined);
    expect([m.toHost(42), m.toGuest(42)]).toEqual([42, 42]);
  });
});
