import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TRACE_TID, TraceRecorder } from "../../../src/base/trace_events.ts";
import {
  escapeXml,
  layout,
  MIN_BAR_PX,
  niceStep,
  parseTrace,
  renderSvg,
  tracksOf,
  type Track,
} from "../../../scripts/trace_picture.ts";

/** A small trace as the VMM writes it: the recorder's own file, one event of every kind src/ records. */
function smallTrace(): string {
  const t = new TraceRecorder(join(mkdtempSync(join(tmpdir(), "trace-picture-")), "t.json"));
  t.span("control", "Exit", 900_000, 1_000);
  t.span("startup", "VM setup begins", 0, 100_000);
  t.span("startup", "devices created", 100_000, 300_000);
  t.threadName(TRACE_TID.vcpu(1), "vCPU 1");
  t.span("vcpu", "10 exits", 400_000, 50_000, TRACE_TID.vcpu(1), { exits: { "io serial out": 10 } });
  t.threadName(TRACE_TID.vcpu(0), "vCPU 0");
  t.span("vcpu", "40 exits", 400_000, 50_000, TRACE_TID.vcpu(0), {
    exits: { "io serial out": 30, "mmio pci": 10 },
  });
  t.threadName(TRACE_TID.device(0), "virtio-blk (pid 7)");
  t.span("device", "start virtio-blk", 150_000, 50_000, TRACE_TID.device(0));
  t.threadName(TRACE_TID.queue(0, 0), "virtio-blk queue 0");
  t.span("queue", "3 requests", 450_000, 50_000, TRACE_TID.queue(0, 0), {
    requests: 3,
    mean_us: 80,
    max_us: 120,
  });
  t.write();
  return readFileSync(t.path, "utf8");
}

const track = (label: string, cat: string, marks: Track["marks"]): Track => ({ label, cat, marks });

describe("scripts/trace_picture.ts (the README's boot picture)", () => {
  test("tracks come in the order start-up, vCPUs, queues, device processes, control", () => {
    const tracks = tracksOf(parseTrace(smallTrace(), "t.json"));

    expect(tracks.map((t) => t.label)).toEqual([
      "VMM main: startup",
      "vCPU 0",
      "vCPU 1",
      "virtio-blk queue 0",
      "virtio-blk (pid 7)",
      "VMM main: control",
    ]);
  });

  test("a vCPU slice's count is the sum of its exits, a queue slice's its requests", () => {
    const tracks = tracksOf(parseTrace(smallTrace(), "t.json"));

    const counts = Object.fromEntries(tracks.map((t) => [t.label, t.marks.map((m) => m.count)]));
    expect(counts["vCPU 0"]).toEqual([40]);
    expect(counts["virtio-blk queue 0"]).toEqual([3]);
    expect(counts["VMM main: startup"]).toEqual([undefined, undefined]);
  });

  test("a bar's position and width are proportional to its ts and dur", () => {
    const marks = [
      { name: "a", ph: "X" as const, ts: 0, dur: 250_000 },
      { name: "b", ph: "X" as const, ts: 500_000, dur: 500_000 },
    ];

    const l = layout([track("t", "startup", marks)], 1230);

    const [a, b] = l.rows[0]!.bars;
    expect(a!.x).toBe(l.left);
    expect(b!.x - l.left).toBeCloseTo(500_000 * l.pxPerUs);
    expect(b!.width).toBeCloseTo(2 * a!.width);
    expect(b!.x + b!.width).toBeCloseTo(1230 - 20);
  });

  test("a bar too short to see is drawn MIN_BAR_PX wide", () => {
    const marks = [
      { name: "long", ph: "X" as const, ts: 0, dur: 10_000_000 },
      { name: "short", ph: "X" as const, ts: 5_000_000, dur: 1 },
    ];

    const l = layout([track("t", "startup", marks)], 1230);

    expect(l.rows[0]!.bars[1]!.width).toBe(MIN_BAR_PX);
  });

  test("the busiest slice of a row is the darkest", () => {
    const marks = [
      { name: "4 exits", ph: "X" as const, ts: 0, dur: 50_000, count: 4 },
      { name: "40 exits", ph: "X" as const, ts: 50_000, dur: 50_000, count: 40 },
    ];

    const [quiet, busy] = layout([track("vCPU 0", "vcpu", marks)], 1230).rows[0]!.bars;

    expect(busy!.opacity).toBe(1);
    expect(quiet!.opacity).toBeLessThan(busy!.opacity);
  });

  test("a trace of a million slices (the recorder's cap) is laid out", () => {
    const marks = Array.from({ length: 1_000_000 }, (_, i) => ({
      name: "1 exits",
      ph: "X" as const,
      ts: i * 50_000,
      dur: 50_000,
      count: 1,
    }));

    const l = layout([track("vCPU 0", "vcpu", marks)], 1230);

    expect(l.rows[0]!.bars.at(-1)!.x).toBeCloseTo(1230 - 20, 1);
  });

  test("the axis ticks are 1, 2 or 5 times a power of ten", () => {
    expect([niceStep(0.9e6), niceStep(1.7e6), niceStep(3e6), niceStep(7e5)]).toEqual([1e6, 2e6, 5e6, 1e6]);
  });

  test("names are escaped in the SVG", () => {
    const marks = [{ name: `<b>&"x"'`, ph: "X" as const, ts: 0, dur: 1_000_000 }];

    const svg = renderSvg(layout([track("q<0>", "queue", marks)], 800), "a & b");

    expect(svg).toContain("&lt;b&gt;&amp;&quot;x&quot;&apos;");
    expect(svg).toContain(">q&lt;0&gt;</text>");
    expect(svg).toContain(">a &amp; b</text>");
    expect(svg).not.toContain("<b>");
  });

  test("escapeXml leaves plain text as it is", () => {
    expect(escapeXml("vCPU 0: 12 exits")).toBe("vCPU 0: 12 exits");
  });

  test("JSON that is not a trace gets one line naming the file and the bad field", () => {
    expect(() => parseTrace(`{"traceEvents": [{"name": 1}]}`, "boot.json")).toThrow(
      /^boot\.json: expected a trace-event JSON .*; at traceEvents\.0\.name: /,
    );
  });

  test("a file that is not JSON gets one line naming it", () => {
    expect(() => parseTrace("{", "boot.json")).toThrow(/^boot\.json: not JSON: /);
  });
});
