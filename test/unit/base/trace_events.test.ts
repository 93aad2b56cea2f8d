import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TRACE_TID, TraceRecorder } from "../../../src/base/trace_events.ts";

const recorder = () => new TraceRecorder(join(mkdtempSync(join(tmpdir(), "trace-")), "t.json"));

describe("TraceRecorder (--trace-file)", () => {
  test("start-up phases are consecutive spans in the order reached", () => {
    const t = recorder();

    t.phase("a");
    t.phase("b");

    const [a, b] = t.events;
    expect([a!.name, b!.name]).toEqual(["a", "b"]);
    expect(a!.ts).toBe(0);
    expect(b!.ts).toBe(a!.ts + a!.dur!);
  });

  test("time() records a span even when the work throws", async () => {
    const t = recorder();

    await expect(t.time("control", "Stop", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");

    expect(t.events.map((e) => [e.cat, e.name, e.ph])).toEqual([["control", "Stop", "X"]]);
  });

  test("the file is trace-event JSON with thread names as metadata", () => {
    const t = recorder();
    t.threadName(TRACE_TID.vcpu(0), "vCPU 0");
    t.instant("device", "virtio-rng exited", TRACE_TID.device(0));

    t.write();

    const json = JSON.parse(readFileSync(t.path, "utf8"));
    expect(json.displayTimeUnit).toBe("ms");
    const names = json.traceEvents
      .filter((e: { ph: string }) => e.ph === "M")
      .map((e: { args: { name: string } }) => e.args.name);
    expect(names).toContain("vCPU 0");
    expect(json.traceEvents.at(-1)).toMatchObject({ name: "virtio-rng exited", ph: "i", tid: 1000 });
  });
});

describe("TraceRecorder.beforeWrite", () => {
  test("a summary added before the write is in the file", () => {
    const t = recorder();
    t.beforeWrite(() => t.instant("device", "summary"));

    const json = JSON.parse(t.toJson());

    expect(json.traceEvents.map((e: { name: string }) => e.name)).toContain("summary");
  });
});
