import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, tcgetattr, write } from "../../../ffi/libc.ts";
import { RecordingIrq, type IrqEvent } from "../../../src/devices/irq.ts";
import { createLegacyDevices, type LegacyDevicesOptions } from "../../../src/devices/legacy.ts";
import type { SerialParameters } from "../../../src/devices/serial/parameters.ts";
import { openPty } from "./pty.ts";
import { serialPort } from "../fixtures/serial.ts";

const dir = mkdtempSync(join(tmpdir(), "legacy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const serial = serialPort;

function options(serials: SerialParameters[], irqs = new Map<number, RecordingIrq>()): LegacyDevicesOptions {
  return {
    serials,
    irqFor(gsi: number): IrqEvent {
      const irq = new RecordingIrq();
      irqs.set(gsi, irq);
      return irq;
    },
    resetEventFd: -1,
    memBelow4G: 256 * 1024 * 1024,
    memAbove4G: 0,
  };
}

const ranges = (io: { base: number; len: number; device: { debugLabel: string } }[]) =>
  io.map((e) => [e.device.debugLabel, e.base, e.len]);

const CHILD = join(import.meta.dir, "fixtures", "console_child.ts");

describe("legacy devices", () => {
  test("the four COM ports, the i8042 and the CMOS are mapped where crosvm maps them", () => {
    const legacy = createLegacyDevices(options([serial({ num: 1, type: "stdout", console: true })]));

    expect(ranges(legacy.io)).toEqual([
      ["serial COM1", 0x3f8, 8],
      ["serial COM2", 0x2f8, 8],
      ["serial COM3", 0x3e8, 8],
      ["serial COM4", 0x2e8, 8],
      ["i8042", 0x61, 4],
      ["cmos", 0x70, 2],
    ]);
  });

  test("a debugcon port is mapped at its debugcon-port, one port wide", () => {
    const legacy = createLegacyDevices(options([serial({ hardware: "debugcon", debugconPort: 0x402 })]));

    expect(ranges(legacy.io)).toContainEqual(["debugcon 0x402", 0x402, 1]);
  });

  test("COM1 and COM3 share IRQ 4, COM2 and COM4 share IRQ 3", () => {
    const irqs = new Map<number, RecordingIrq>();
    const legacy = createLegacyDevices(options([], irqs));
    const thrEmptyInterrupt = (base: number) =>
      legacy.io.find((e) => e.base === base)!.device.write(1, Uint8Array.of(0x02));

    thrEmptyInterrupt(0x3f8);
    thrEmptyInterrupt(0x3e8);
    thrEmptyInterrupt(0x2f8);

    expect([...irqs.keys()].sort((a, b) => a - b)).toEqual([3, 4, 8]); // 8: the RTC alarm
    expect(irqs.get(4)!.count).toBe(2);
    expect(irqs.get(3)!.count).toBe(1);
  });

  test("a virtio-console parameter is left to the virtio console", () => {
    const legacy = createLegacyDevices(
      options([serial({ hardware: "virtio-console", num: 1, console: true, type: "stdout" })]),
    );

    expect(legacy.io.filter((e) => e.device.debugLabel.startsWith("serial")).length).toBe(4);
  });

  test("a missing input file is refused naming the port and the file", () => {
    const path = join(dir, "absent");

    expect(() => createLegacyDevices(options([serial({ num: 2, input: path })]))).toThrow(
      `serial COM2: cannot open input file "${path}": ENOENT`,
    );
  });

  test("an input file reaches the guest through its COM port after start()", async () => {
    const path = join(dir, "input.txt");
    writeFileSync(path, "ls\n");
    const legacy = createLegacyDevices(options([serial({ num: 2, input: path })]));
    const com2 = legacy.io.find((e) => e.base === 0x2f8)!.device;
    const reg = (o: number) => {
      const d = new Uint8Array(1);
      com2.read(o, d);
      return d[0]!;
    };

    legacy.start();
    const got: number[] = [];
    for (let i = 0; i < 500 && got.length < 3; i++) {
      if (reg(5) & 1) got.push(reg(0));
      else await Bun.sleep(2);
    }
    legacy.stop();
    legacy.stop();

    expect(String.fromCharCode(...got)).toBe("ls\n");
  });

  test("by default COM1 is the console: stdin reaches the guest and its output reaches stdout", async () => {
    const child = Bun.spawn([process.execPath, CHILD, "4"], {
      stdin: new TextEncoder().encode("ping"),
      stdout: "pipe",
      stderr: "ignore",
    });

    const out = await new Response(child.stdout).text();

    expect(await child.exited).toBe(0);
    expect(out).toBe("70 69 6e 67\n");
  });

  test("on a terminal stdin, Ctrl-C reaches the guest as 0x03 and the terminal is restored on stop", async () => {
    const pty = openPty();
    const before = tcgetattr(pty.slave);
    const child = Bun.spawn([process.execPath, CHILD, "2"], {
      stdin: pty.slave,
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = child.stderr.getReader();
    await stderr.read(); // "ready": raw mode is on

    write(pty.master, Uint8Array.of(0x03, 0x61));
    const out = await new Response(child.stdout).text();
    const code = await child.exited;
    const after = tcgetattr(pty.slave);
    close(pty.master);
    close(pty.slave);

    expect(code).toBe(0);
    expect(out).toBe("03 61\n");
    expect([...after]).toEqual([...before]);
  });
});
