// --trace-file: three runs for the whole file (a VMM start takes seconds under TCG). The ELF64 stand-in kernel
// (guests/kernel64.S, which writes COM1 and resets) with CROSVM_TRACE_EXITS=1 as well, so the trace's exit
// counts can be held against the printed profile; the spinning --bios guest stopped through its control
// socket, so the trace holds a control request; and a --bios guest that makes four requests to virtio-rng
// (guests/virtio_rng.S), so the trace holds the device's queue slices.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopVm } from "../../../src/vm_control/client.ts";
import { scaled } from "../time_scale.ts";
import { guestImage, kernelImage } from "./guest_build.ts";
import { startCrosvm, type CliResult } from "./run_cli.ts";

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  tid: number;
  args?: {
    exits?: Record<string, number>;
    name?: string;
    requests?: number;
    mean_us?: number;
    max_us?: number;
  };
}

const dir = mkdtempSync(join(tmpdir(), "crosvm-trace-"));
let boot: { result: CliResult; events: TraceEvent[] };
let controlled: { result: CliResult; events: TraceEvent[] };
let rng: { result: CliResult; events: TraceEvent[] };

function readTrace(path: string): TraceEvent[] {
  const json = JSON.parse(readFileSync(path, "utf8")) as { traceEvents: TraceEvent[] };
  return json.traceEvents;
}

async function waitForFile(path: string): Promise<void> {
  const deadline = Date.now() + scaled(20_000);
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await Bun.sleep(20);
  }
}

beforeAll(async () => {
  const bootTrace = join(dir, "boot.json");
  const vmm = startCrosvm(["run", "--trace-file", bootTrace, await kernelImage("kernel64")], {
    env: { CROSVM_TRACE_EXITS: "1" },
    keepStdinOpen: false,
  });
  boot = { result: await vmm.result, events: readTrace(bootTrace) };

  const socket = join(dir, "vm.sock");
  const stopTrace = join(dir, "stop.json");
  const spinning = startCrosvm(
    ["run", "-s", socket, "--trace-file", stopTrace, "--bios", await guestImage("spin")],
    {
      keepStdinOpen: false,
    },
  );
  await spinning.waitForOutput("spinning");
  await waitForFile(socket);
  await stopVm(socket);
  controlled = { result: await spinning.result, events: readTrace(stopTrace) };

  const rngTrace = join(dir, "rng.json");
  const rngGuest = startCrosvm(["run", "--trace-file", rngTrace, "--bios", await guestImage("virtio_rng")], {
    keepStdinOpen: false,
  });
  rng = { result: await rngGuest.result, events: readTrace(rngTrace) };
}, scaled(180_000));

describe("--trace-file", () => {
  test("the boot ends normally with the trace on", () => {
    expect(boot.result.status).toBe(0);
  });

  test("the start-up phases are spans in the order the VMM reaches them", () => {
    const phases = boot.events.filter((e) => e.cat === "startup");

    expect(phases.map((e) => e.name)).toEqual([
      "VM setup begins",
      "VM and guest memory created",
      "kernel loaded",
      "devices created",
      "guest RAM collapsed ahead of the guest",
      "vCPU threads ready",
      "first KVM_RUN",
    ]);
    for (let i = 1; i < phases.length; i++) expect(phases[i]!.ts).toBeGreaterThanOrEqual(phases[i - 1]!.ts);
  });

  test("the vCPU's exits summed over its slices match CROSVM_TRACE_EXITS's profile", () => {
    const fromTrace = new Map<string, number>();
    for (const e of boot.events.filter((e) => e.cat === "vcpu" && e.tid === 100))
      for (const [label, count] of Object.entries(e.args?.exits ?? {}))
        fromTrace.set(label, (fromTrace.get(label) ?? 0) + count);
    // "exits:        N      T ms     U us/exit  LABEL"
    const rows = [...boot.result.stderr.matchAll(/^exits: +(\d+) +[\d.]+ ms +[\d.]+ us\/exit {2}(.+)$/gm)];

    expect(rows.length).toBeGreaterThan(0);
    expect(Object.fromEntries(fromTrace)).toEqual(Object.fromEntries(rows.map((m) => [m[2]!, Number(m[1])])));
  });

  test("the vCPU's track is named", () => {
    expect(boot.events).toContainEqual(
      expect.objectContaining({ ph: "M", tid: 100, args: { name: "vCPU 0" } }),
    );
  });

  test("a device process's start and exit are on its own track", () => {
    const starts = boot.events.filter((e) => e.cat === "device" && e.ph === "X");
    const exits = boot.events.filter((e) => e.cat === "device" && e.ph === "i");

    expect(starts.map((e) => e.name)).toContainEqual(expect.stringContaining("start virtio-rng"));
    expect(exits.map((e) => e.tid)).toContain(starts[0]!.tid);
  });

  test("a control-socket request is a span named by its kind", () => {
    expect(controlled.result.status).toBe(0);
    expect(controlled.events.filter((e) => e.cat === "control").map((e) => e.name)).toEqual(["Exit"]);
  });

  test("a guest's virtio-rng requests are slices on the track of the device's queue 0", () => {
    const track = rng.events.find((e) => e.ph === "M" && e.args?.name === "virtio-rng queue 0");
    const slices = rng.events.filter((e) => e.cat === "queue" && e.tid === track?.tid);

    expect(rng.result.stdout).toContain("virtio-rng: 4 used");
    expect(track).toBeDefined();
    expect(slices.reduce((n, e) => n + e.args!.requests!, 0)).toBe(4);
    for (const e of slices) {
      expect(e).toMatchObject({ ph: "X", dur: 50_000 });
      expect(e.args!.max_us!).toBeGreaterThanOrEqual(e.args!.mean_us!);
    }
  });
});
