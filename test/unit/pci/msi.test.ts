import { describe, expect, test } from "bun:test";
import { RecordingIrq } from "../../../src/devices/irq.ts";
import type { MsixVectorState } from "../../../src/devices/pci/msix.ts";
import { MSI_64BIT, MSI_ENABLE, MsiConfig, PCI_CAP_ID_MSI } from "../../../src/devices/pci/msi.ts";
import { le32 } from "./fixture.ts";

describe("MSI capability (PCI 3.0 section 6.8.1, 64-bit layout)", () => {
  test("the body starts with capability ID 0x05", () => {
    expect(new MsiConfig().capability()[0]).toBe(PCI_CAP_ID_MSI);
  });

  test("Message Control reads 64-bit capable, one vector, disabled", () => {
    expect(new MsiConfig().readDword(0, 0x5005) >>> 16).toBe(MSI_64BIT);
  });

  test("address, upper address and data read back as written, the address's low two bits dropped", () => {
    const m = new MsiConfig();
    m.writeDword(1, 0, le32(0xfee0_0003));
    m.writeDword(2, 0, le32(0x1));
    m.writeDword(3, 0, le32(0x1234_0041));
    expect([m.readDword(1, 0), m.readDword(2, 0), m.readDword(3, 0)]).toEqual([0xfee0_0000, 1, 0x0041]);
  });

  test("Multiple Message Enable stays 0 (one vector) whatever is written", () => {
    const m = new MsiConfig();
    m.writeDword(0, 2, Uint8Array.of(0x71, 0));
    expect(m.readDword(0, 0) >>> 16).toBe(MSI_64BIT | MSI_ENABLE);
  });

  test("enabling reports the vector unmasked with its route", () => {
    const seen: MsixVectorState[] = [];
    const m = new MsiConfig(undefined, (s) => seen.push(s));
    m.writeDword(1, 0, le32(0xfee0_0000));
    m.writeDword(0, 2, Uint8Array.of(MSI_ENABLE, 0));
    expect(seen.at(-1)).toEqual({ addressLo: 0xfee0_0000, addressHi: 0, data: 0, masked: false });
  });

  test("trigger sends only while enabled", () => {
    const irq = new RecordingIrq();
    const m = new MsiConfig(irq);
    const before = m.trigger();
    m.writeDword(0, 2, Uint8Array.of(MSI_ENABLE, 0));
    const after = m.trigger();
    expect([before, after, irq.count]).toEqual([false, true, 1]);
  });
});
