import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, eventfdRead } from "../../../ffi/libc.ts";
import { Bus } from "../../../src/devices/bus.ts";
import { Cmos } from "../../../src/devices/cmos.ts";
import { I8042 } from "../../../src/devices/i8042.ts";
import { EventFdIrq } from "../../../src/devices/irq.ts";
import { reviveSerialOutput } from "../../../src/devices/serial/output.ts";
import { Uart16550 } from "../../../src/devices/serial/uart.ts";
import { shareBus } from "../../../src/devices/shared_device.ts";

// One real Worker over the same devices: what it does through its revived Bus the main thread sees, and back.
let worker: Worker;
let irqFd: number;
let uart: Uart16550;
let cmos: Cmos;
let resetFd: number;

function call(msg: unknown): Promise<{ ok: boolean; value?: number; error?: string }> {
  return new Promise((resolve) => {
    worker.onmessage = (ev) => resolve(ev.data);
    worker.postMessage(msg);
  });
}

beforeAll(async () => {
  irqFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  uart = new Uart16550({
    irq: new EventFdIrq(irqFd),
    output: reviveSerialOutput({ kind: "sink" }),
    label: "COM1",
  });
  cmos = new Cmos({ memBelow4G: 64 * 1024 * 1024, memAbove4G: 0 });
  resetFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const bus = new Bus("io");
  bus.insert(uart, 0x3f8, 8);
  bus.insert(cmos, 0x70, 2);
  bus.insert(new I8042(resetFd), 0x61, 4);
  worker = new Worker(new URL("./fixtures/bus_worker.ts", import.meta.url).href);
  const reply = await call({ op: "bus", entries: shareBus(bus) });
  if (!reply.ok) throw new Error(reply.error);
});

afterAll(() => {
  worker.terminate();
  close(irqFd);
  close(resetFd);
});

const read = (device: { read(o: number, d: Uint8Array): void }, offset: number) => {
  const d = new Uint8Array(1);
  device.read(offset, d);
  return d[0];
};

describe("devices shared with a vCPU Worker", () => {
  test("input queued by the main thread is read by the Worker's UART", async () => {
    uart.queueInput(new TextEncoder().encode("h"));

    const reply = await call({ op: "read", port: 0x3f8 });

    expect(reply.value).toBe(0x68);
    expect(read(uart, 5)! & 0x01).toBe(0);
  });

  test("a register the Worker writes is seen by the main thread's UART", async () => {
    await call({ op: "write", port: 0x3ff, value: 0x77 });

    expect(read(uart, 7)).toBe(0x77);
  });

  test("the Worker's UART raises the interrupt on the shared eventfd", async () => {
    eventfdRead(irqFd);

    await call({ op: "write", port: 0x3f9, value: 0x02 }); // IER: THR empty

    expect(eventfdRead(irqFd)).toBe(1n);
  });

  test("the CMOS index the Worker selects is the one the main thread reads", async () => {
    await call({ op: "write", port: 0x70, value: 0x35 });

    expect(read(cmos, 1)).toBe(0x03); // (64 MiB - 16 MiB) / 64 KiB = 0x0300, high byte
  });

  test("the Worker's i8042 signals the reset eventfd on command 0xFE", async () => {
    await call({ op: "write", port: 0x64, value: 0xfe });

    expect(eventfdRead(resetFd)).toBe(1n);
  });
});
