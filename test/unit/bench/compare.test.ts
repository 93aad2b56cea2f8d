// bench/compare.ts: the set-up order of the rig benchmarks' passes and their closing table.
import { describe, expect, test } from "bun:test";
import { alternate, ratioTable } from "../../../bench/compare.ts";

describe("alternate", () => {
  test("reverses the order of the set-ups on every second pass", async () => {
    const order: string[] = [];

    await alternate(
      3,
      [{ label: "a" }, { label: "b" }],
      async (s, pass) => void order.push(`${pass}${s.label}`),
    );

    expect(order).toEqual(["1a", "1b", "2b", "2a", "3a", "3b"]);
  });

  test("reports a set-up that throws as failed and leaves it out of the later passes", async () => {
    const order: string[] = [];

    const failed = await alternate(2, [{ label: "a" }, { label: "b" }], async (s, pass) => {
      order.push(`${pass}${s.label}`);
      if (s.label === "a") throw new Error("no vhost-net here");
    });

    expect([...failed]).toEqual(["a"]);
    expect(order).toEqual(["1a", "1b", "2b"]);
  });
});

describe("ratioTable", () => {
  test("a throughput row at or above QEMU's meets its target", () => {
    const [, row] = ratioTable([{ name: "g2h", ours: 300, qemu: 200, higherIsBetter: true }]);

    expect(row).toContain("1.50x  >= 1.0 (met)");
  });

  test("a latency row above QEMU's misses its target", () => {
    const [, row] = ratioTable([{ name: "ping", ours: 2, qemu: 1, higherIsBetter: false }]);

    expect(row).toContain("2.00x  <= 1.0 (not met)");
  });

  test("a row whose set-up failed shows it and no ratio", () => {
    const [, row] = ratioTable([{ name: "g2h", ours: 300, qemu: undefined, higherIsBetter: true }]);

    expect(row).toContain("failed");
    expect(row).toContain("-  >= 1.0 -");
  });
});
