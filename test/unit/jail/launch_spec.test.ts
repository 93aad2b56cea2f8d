import { expect, test } from "bun:test";
import { parseLaunchSpec } from "../../../src/jail/device_process/launch_spec.ts";

const good = {
  options: {},
  memory: [{ guestAddr: 0, size: 4096, fdOffset: 0 }],
  fds: { control: 3, events: 4, memfd: 5, queueEvents: [6], irqfds: [7, 8], backing: [] },
  logLevel: "info",
};

test("a complete spec parses", () => {
  expect(parseLaunchSpec(JSON.stringify(good)).fds.irqfds).toEqual([7, 8]);
});

test("a spec that is not JSON is refused with a one-line reason", () => {
  expect(() => parseLaunchSpec("{")).toThrow(/device-process spec: not JSON/);
});

test("a spec without fd numbers is refused naming the field", () => {
  const bad = { ...good, fds: { ...good.fds, memfd: "x" } };

  expect(() => parseLaunchSpec(JSON.stringify(bad))).toThrow(/fds.memfd must be fd numbers/);
});

test("a memory region with a negative size is refused", () => {
  const bad = { ...good, memory: [{ guestAddr: 0, size: -1, fdOffset: 0 }] };

  expect(() => parseLaunchSpec(JSON.stringify(bad))).toThrow(/memory must list/);
});

test("a queue trace slice length is kept", () => {
  expect(parseLaunchSpec(JSON.stringify({ ...good, traceSliceMs: 50 })).traceSliceMs).toBe(50);
});

test("a queue trace slice length of zero is refused naming the field", () => {
  expect(() => parseLaunchSpec(JSON.stringify({ ...good, traceSliceMs: 0 }))).toThrow(/traceSliceMs must be/);
});
