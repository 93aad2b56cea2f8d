// The device answers at the I/O ports the arch helper's FADT announces, read from the table bytes themselves.
import { afterEach, describe, expect, test } from "bun:test";
import { FADT, buildFadt } from "../../../src/arch/x86_64/acpi/fadt.ts";
import { ACPI_PM_IO_BASE, RESET_PORT, RESET_VALUE, SCI_IRQ } from "../../../src/arch/x86_64/layout.ts";
import {
  type AcpiPm,
  createAcpiPm,
  PM1_CNT_SCI_EN,
  PM1_CNT_SLP_TYP_SHIFT,
  PM1_PWRBTN,
} from "../../../src/devices/acpi/acpi_pm.ts";
import { KvmIrqLine, RecordingIrqLevel } from "../../../src/devices/acpi/irq_level.ts";
import { RESET_CONTROL_LEN } from "../../../src/devices/acpi/reset_control.ts";
import { Bus } from "../../../src/devices/bus.ts";
import { closeEventFds, read16, read8, testEventFd, write16, write8 } from "./helpers.ts";

afterEach(closeEventFds);

const fadt = new DataView(
  buildFadt({
    sciIrq: SCI_IRQ,
    pmIoBase: ACPI_PM_IO_BASE,
    resetPort: RESET_PORT,
    resetValue: RESET_VALUE,
    facsAddr: 0,
    dsdtAddr: 0,
  }).buffer,
);
const pm1aEvt = fadt.getUint32(FADT.pm1aEvtBlk, true);
const pm1EvtLen = fadt.getUint8(FADT.pm1EvtLen);
const pm1aCnt = fadt.getUint32(FADT.pm1aCntBlk, true);
const gpe0 = fadt.getUint32(FADT.gpe0Blk, true);
const gpe0Len = fadt.getUint8(FADT.gpe0BlkLen);

function ioBus(): { bus: Bus; pressPowerButton(): void; sci: RecordingIrqLevel; device: AcpiPm } {
  const sci = new RecordingIrqLevel();
  const pm = createAcpiPm({
    sciGsi: fadt.getUint16(FADT.sciInt, true),
    irqLevel: sci,
    poweroffEventFd: testEventFd(),
    resetEventFd: testEventFd(),
  });
  const bus = new Bus("io");
  for (const r of pm.io) bus.insert(r.device, r.base, r.len);
  return { bus, pressPowerButton: pm.pressPowerButton, sci, device: pm.device };
}

const port = (bus: Bus) => ({
  read(p: number, d: Uint8Array) {
    bus.read(p, d);
  },
  write(p: number, d: Uint8Array) {
    bus.write(p, d);
  },
});

describe("ACPI PM at the FADT's ports", () => {
  test("PM1_STS at PM1a_EVT_BLK reports a power button press", () => {
    const { bus, pressPowerButton } = ioBus();

    pressPowerButton();

    expect(read16(port(bus), pm1aEvt)).toBe(PM1_PWRBTN);
  });

  test("PM1_EN at PM1a_EVT_BLK + PM1_EVT_LEN/2 reads back and gates the SCI", () => {
    const { bus, pressPowerButton, sci } = ioBus();

    write16(port(bus), pm1aEvt + pm1EvtLen / 2, PM1_PWRBTN);
    pressPowerButton();

    expect(read16(port(bus), pm1aEvt + pm1EvtLen / 2)).toBe(PM1_PWRBTN);
    expect(sci.high).toBe(true);
  });

  test("PM1_CNT at PM1a_CNT_BLK reads back SLP_TYP and SCI_EN", () => {
    const { bus } = ioBus();
    const value = PM1_CNT_SCI_EN | (3 << PM1_CNT_SLP_TYP_SHIFT);

    write16(port(bus), pm1aCnt, value);

    expect(read16(port(bus), pm1aCnt)).toBe(value);
  });

  test("GPE0_EN at GPE0_BLK + GPE0_BLK_LEN/2 reads back, its last byte inside the device", () => {
    const { bus } = ioBus();
    const lastEnable = gpe0 + gpe0Len - 1;

    write8(port(bus), lastEnable, 0x81);

    expect(read8(port(bus), lastEnable)).toBe(0x81);
    expect(bus.lookup(lastEnable + 1)).toBeUndefined();
  });

  test("GPE0_STS at GPE0_BLK is write-1-to-clear", () => {
    const { bus, device } = ioBus();
    device.raiseGpe(3);
    device.raiseGpe(4);

    write8(port(bus), gpe0, 1 << 3);

    expect(read8(port(bus), gpe0)).toBe(1 << 4);
  });

  test("the FADT's reset register is the port and value the reset decoder takes", () => {
    const space = fadt.getUint8(FADT.resetReg);
    const address = Number(fadt.getBigUint64(FADT.resetReg + 4, true));

    expect(space).toBe(1); // system I/O
    expect(address).toBe(RESET_PORT);
    expect(RESET_CONTROL_LEN).toBe(1);
    expect(fadt.getUint8(FADT.resetValue) & 0x04).toBe(0x04); // RST_CPU, which the decoder acts on
  });

  test("createAcpiPm refuses a KVM line on another GSI than the SCI", () => {
    expect(() =>
      createAcpiPm({
        sciGsi: SCI_IRQ,
        irqLevel: new KvmIrqLine(-1, SCI_IRQ + 1),
        poweroffEventFd: -1,
        resetEventFd: -1,
      }),
    ).toThrow(`the SCI line drives GSI ${SCI_IRQ + 1}, but the SCI is GSI ${SCI_IRQ}`);
  });
});
