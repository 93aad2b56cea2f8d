// Builds an ACPI PM device over a recording SCI line and a real poweroff eventfd, with port-level accessors.
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../../ffi/libc.ts";
import { AcpiPm } from "../../../src/devices/acpi/acpi_pm.ts";
import { RecordingIrqLevel } from "../../../src/devices/acpi/irq_level.ts";

const fds: number[] = [];

/** A non-blocking eventfd closed by closeEventFds(). */
export function testEventFd(): number {
  const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fds.push(fd);
  return fd;
}

export function closeEventFds(): void {
  while (fds.length) close(fds.pop()!);
}

export interface Rig {
  readonly pm: AcpiPm;
  readonly sci: RecordingIrqLevel;
  readonly poweroffFd: number;
}

export function makeRig(): Rig {
  const sci = new RecordingIrqLevel();
  const poweroffFd = testEventFd();
  return { pm: new AcpiPm({ irqLevel: sci, poweroffEventFd: poweroffFd }), sci, poweroffFd };
}

type Device = { read(o: number, d: Uint8Array): void; write(o: number, d: Uint8Array): void };

export function read8(dev: Device, offset: number): number {
  const d = new Uint8Array(1);
  dev.read(offset, d);
  return d[0]!;
}

export function read16(dev: Device, offset: number): number {
  const d = new Uint8Array(2);
  dev.read(offset, d);
  return d[0]! | (d[1]! << 8);
}

export function write8(dev: Device, offset: number, value: number): void {
  dev.write(offset, Uint8Array.of(value));
}

export function write16(dev: Device, offset: number, value: number): void {
  dev.write(offset, Uint8Array.of(value & 0xff, value >>> 8));
}
