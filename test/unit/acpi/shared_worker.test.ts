// One real Worker over the same ACPI PM device: what the main thread does the Worker's revived copy sees, and back.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventfdRead } from "../../../ffi/libc.ts";
import { SLP_TYP_S5 } from "../../../src/arch/x86_64/acpi/dsdt.ts";
import { ACPI_PM_IO_BASE, SCI_IRQ } from "../../../src/arch/x86_64/layout.ts";
import {
  createAcpiPm,
  PM1_CNT_OFFSET,
  PM1_CNT_SCI_EN,
  PM1_CNT_SLP_EN,
  PM1_CNT_SLP_TYP_SHIFT,
  PM1_EN_OFFSET,
  PM1_PWRBTN,
  PM1_STS_OFFSET,
} from "../../../src/devices/acpi/acpi_pm.ts";
import { RecordingIrqLevel } from "../../../src/devices/acpi/irq_level.ts";
import { Bus } from "../../../src/devices/bus.ts";
import { shareBus } from "../../../src/devices/shared_device.ts";
import { closeEventFds, testEventFd } from "./helpers.ts";

let worker: Worker;
let sci: RecordingIrqLevel;
let poweroffFd: number;
let pressPowerButton: () => void;

function call(msg: unknown): Promise<{ ok: boolean; value?: number; error?: string }> {
  return new Promise((resolve) => {
    worker.onmessage = (ev) => resolve(ev.data);
    worker.postMessage(msg);
  });
}

beforeAll(async () => {
  sci = new RecordingIrqLevel();
  poweroffFd = testEventFd();
  const pm = createAcpiPm({
    sciGsi: SCI_IRQ,
    irqLevel: sci,
    poweroffEventFd: poweroffFd,
    resetEventFd: testEventFd(),
  });
  pressPowerButton = pm.pressPowerButton;
  const bus = new Bus("io");
  for (const r of pm.io) bus.insert(r.device, r.base, r.len);
  worker = new Worker(new URL("./fixtures/acpi_worker.ts", import.meta.url).href);
  const reply = await call({ op: "bus", entries: shareBus(bus) });
  if (!reply.ok) throw new Error(reply.error);
});

afterAll(() => {
  worker.terminate();
  closeEventFds();
});

const port = (offset: number) => ACPI_PM_IO_BASE + offset;

describe("ACPI PM shared with a vCPU Worker", () => {
  test("a press on the main thread is seen by the Worker and its clear lowers the shared SCI", async () => {
    await call({ op: "write", port: port(PM1_EN_OFFSET), size: 2, value: PM1_PWRBTN });
    pressPowerButton();
    const raised = sci.high;

    const status = await call({ op: "read", port: port(PM1_STS_OFFSET), size: 2 });
    await call({ op: "write", port: port(PM1_STS_OFFSET), size: 2, value: PM1_PWRBTN });

    expect(raised).toBe(true);
    expect(status.value).toBe(PM1_PWRBTN);
    expect(sci.high).toBe(false);
  });

  test("the Worker's S5 request signals the poweroff eventfd", async () => {
    const value = PM1_CNT_SCI_EN | (SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN;

    await call({ op: "write", port: port(PM1_CNT_OFFSET), size: 2, value });

    expect(eventfdRead(poweroffFd)).toBe(1n);
  });
});
