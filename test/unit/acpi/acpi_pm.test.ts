import { afterEach, describe, expect, test } from "bun:test";
import { eventfdRead } from "../../../ffi/libc.ts";
import { SLP_TYP_S1, SLP_TYP_S5 } from "../../../src/arch/x86_64/acpi/dsdt.ts";
import {
  GPE0_EN_OFFSET,
  GPE0_STS_OFFSET,
  PM1_CNT_OFFSET,
  PM1_CNT_SCI_EN,
  PM1_CNT_SLP_EN,
  PM1_CNT_SLP_TYP_SHIFT,
  PM1_EN_OFFSET,
  PM1_PWRBTN,
  PM1_STS_OFFSET,
  PM1_WAK_STS,
} from "../../../src/devices/acpi/acpi_pm.ts";
import { closeEventFds, makeRig, read16, read8, write16, write8 } from "./helpers.ts";

afterEach(closeEventFds);

const sleepRequest = (slpTyp: number) => PM1_CNT_SCI_EN | (slpTyp << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN;

describe("ACPI PM1 power button", () => {
  test("a press sets PWRBTN_STS and raises the SCI when PWRBTN_EN and SCI_EN are set", () => {
    const { pm, sci } = makeRig();
    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);

    pm.pressPowerButton();

    expect(read16(pm, PM1_STS_OFFSET) & PM1_PWRBTN).toBe(PM1_PWRBTN);
    expect(sci.high).toBe(true);
  });

  test("a press with PWRBTN_EN clear sets the status but leaves the SCI low", () => {
    const { pm, sci } = makeRig();

    pm.pressPowerButton();

    expect(read16(pm, PM1_STS_OFFSET) & PM1_PWRBTN).toBe(PM1_PWRBTN);
    expect(sci.high).toBe(false);
    expect(sci.raises).toBe(0);
  });

  test("a press with SCI_EN clear leaves the SCI low until SCI_EN is set", () => {
    const { pm, sci } = makeRig();
    write16(pm, PM1_CNT_OFFSET, 0);
    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);

    pm.pressPowerButton();
    const before = sci.high;
    write16(pm, PM1_CNT_OFFSET, PM1_CNT_SCI_EN);

    expect(before).toBe(false);
    expect(sci.high).toBe(true);
  });

  test("enabling PWRBTN_EN after a press raises the pending SCI", () => {
    const { pm, sci } = makeRig();
    pm.pressPowerButton();

    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);

    expect(sci.high).toBe(true);
  });

  test("writing 1 to PWRBTN_STS clears it and lowers the SCI", () => {
    const { pm, sci } = makeRig();
    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);
    pm.pressPowerButton();

    write16(pm, PM1_STS_OFFSET, PM1_PWRBTN);

    expect(read16(pm, PM1_STS_OFFSET)).toBe(0);
    expect(sci.high).toBe(false);
    expect(sci.lowers).toBe(1);
  });

  test("writing 0 to PM1_STS leaves the status set", () => {
    const { pm, sci } = makeRig();
    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);
    pm.pressPowerButton();

    write16(pm, PM1_STS_OFFSET, 0);

    expect(read16(pm, PM1_STS_OFFSET)).toBe(PM1_PWRBTN);
    expect(sci.high).toBe(true);
  });

  test("a byte write of 1 to the high byte of PM1_STS clears PWRBTN_STS", () => {
    const { pm } = makeRig();
    pm.pressPowerButton();

    write8(pm, PM1_STS_OFFSET + 1, PM1_PWRBTN >> 8);

    expect(read8(pm, PM1_STS_OFFSET + 1)).toBe(0);
  });

  test("a second press while the SCI is high does not re-drive the line", () => {
    const { pm, sci } = makeRig();
    write16(pm, PM1_EN_OFFSET, PM1_PWRBTN);

    pm.pressPowerButton();
    pm.pressPowerButton();

    expect(sci.raises).toBe(1);
  });
});

describe("ACPI PM1 control and sleep", () => {
  test("SCI_EN reads set from power-on (the FADT has no SMI_CMD: always in ACPI mode)", () => {
    const { pm } = makeRig();

    expect(read16(pm, PM1_CNT_OFFSET)).toBe(PM1_CNT_SCI_EN);
  });

  test("SLP_EN with the DSDT's S5 sleep type signals the poweroff eventfd", () => {
    const { pm, poweroffFd } = makeRig();

    write16(pm, PM1_CNT_OFFSET, sleepRequest(SLP_TYP_S5));

    expect(eventfdRead(poweroffFd)).toBe(1n);
  });

  test("SLP_EN with another sleep type does not power off and reports an immediate wake", () => {
    const { pm, poweroffFd } = makeRig();
    const other = (SLP_TYP_S5 + 3) & 7; // S3 in the usual numbering; anything but S5

    write16(pm, PM1_CNT_OFFSET, sleepRequest(other));

    expect(eventfdRead(poweroffFd)).toBe(0n);
    expect(read16(pm, PM1_STS_OFFSET) & PM1_WAK_STS).toBe(PM1_WAK_STS);
  });

  test("the DSDT's S1 sleep type does not power off", () => {
    const { pm, poweroffFd } = makeRig();

    write16(pm, PM1_CNT_OFFSET, sleepRequest(SLP_TYP_S1));

    expect(eventfdRead(poweroffFd)).toBe(0n);
  });

  test("SLP_TYP without SLP_EN does not power off and reads back, SLP_EN reading 0", () => {
    const { pm, poweroffFd } = makeRig();
    const typ = (SLP_TYP_S5 ^ 7) << PM1_CNT_SLP_TYP_SHIFT;

    write16(pm, PM1_CNT_OFFSET, PM1_CNT_SCI_EN | typ);
    write16(pm, PM1_CNT_OFFSET, PM1_CNT_SCI_EN | typ | PM1_CNT_SLP_EN);

    expect(read16(pm, PM1_CNT_OFFSET)).toBe(PM1_CNT_SCI_EN | typ);
    expect(eventfdRead(poweroffFd)).toBe(0n);
  });

  test("a byte write of SLP_EN to the high byte uses the stored SLP_TYP", () => {
    const { pm, poweroffFd } = makeRig();
    write16(pm, PM1_CNT_OFFSET, PM1_CNT_SCI_EN | (SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT));

    write8(pm, PM1_CNT_OFFSET + 1, ((SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN) >> 8);

    expect(eventfdRead(poweroffFd)).toBe(1n);
  });
});

describe("ACPI GPE0 block", () => {
  test("an enabled pending GPE raises the SCI; writing 1 to its status clears it and lowers the SCI", () => {
    const { pm, sci } = makeRig();
    pm.raiseGpe(10);

    write8(pm, GPE0_EN_OFFSET + 1, 1 << 2);
    const raised = sci.high;
    write8(pm, GPE0_STS_OFFSET + 1, 1 << 2);

    expect(raised).toBe(true);
    expect(read8(pm, GPE0_STS_OFFSET + 1)).toBe(0);
    expect(sci.high).toBe(false);
  });

  test("a GPE with its enable bit clear sets the status but leaves the SCI low", () => {
    const { pm, sci } = makeRig();

    pm.raiseGpe(255);

    expect(read8(pm, GPE0_STS_OFFSET + 31)).toBe(0x80);
    expect(sci.high).toBe(false);
  });

  test("disabling a pending GPE lowers the SCI", () => {
    const { pm, sci } = makeRig();
    write8(pm, GPE0_EN_OFFSET, 0x01);
    pm.raiseGpe(0);

    write8(pm, GPE0_EN_OFFSET, 0);

    expect(sci.high).toBe(false);
    expect(read8(pm, GPE0_STS_OFFSET)).toBe(1);
  });

  test("the enable registers read back what was written", () => {
    const { pm } = makeRig();

    write8(pm, GPE0_EN_OFFSET + 31, 0xa5);

    expect(read8(pm, GPE0_EN_OFFSET + 31)).toBe(0xa5);
  });

  test("a GPE number outside the block is refused", () => {
    const { pm } = makeRig();

    expect(() => pm.raiseGpe(256)).toThrow("GPE 256 is out of range (0..255)");
  });
});

describe("ACPI PM access sizes", () => {
  test("a word access to GPE0 is refused: reads 0, writes ignored", () => {
    const { pm } = makeRig();
    write8(pm, GPE0_EN_OFFSET, 0x5a);

    write16(pm, GPE0_EN_OFFSET, 0xffff);

    expect(read8(pm, GPE0_EN_OFFSET)).toBe(0x5a);
    expect(read16(pm, GPE0_EN_OFFSET)).toBe(0);
  });

  test("an access spanning PM1_STS and PM1_EN is refused", () => {
    const { pm } = makeRig();

    write16(pm, PM1_STS_OFFSET + 1, 0xffff);

    expect(read16(pm, PM1_EN_OFFSET)).toBe(0);
  });

  test("the unused bytes between PM1_CNT and GPE0 read 0 and ignore writes", () => {
    const { pm } = makeRig();

    write16(pm, PM1_CNT_OFFSET + 2, 0xffff);

    expect(read16(pm, PM1_CNT_OFFSET + 2)).toBe(0);
    expect(read16(pm, PM1_CNT_OFFSET)).toBe(PM1_CNT_SCI_EN);
  });

  test("a dword access to PM1_STS is refused", () => {
    const { pm } = makeRig();
    pm.pressPowerButton();
    const d = new Uint8Array(4);

    pm.read(PM1_STS_OFFSET, d);

    expect([...d]).toEqual([0, 0, 0, 0]);
  });
});
