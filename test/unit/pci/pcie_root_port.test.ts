import { describe, expect, test } from "bun:test";
import { RecordingIrq } from "../../../src/devices/irq.ts";
import { PCI_CAPABILITY_LIST, PCI_HEADER_TYPE } from "../../../src/devices/pci/config_space.ts";
import { MSI_ENABLE, PCI_CAP_ID_MSI } from "../../../src/devices/pci/msi.ts";
import {
  PCI_CAP_ID_EXP,
  PCI_EXP_LNKSTA_DLLLA,
  PCI_EXP_SLTCTL_DLLSCE,
  PCI_EXP_SLTCTL_HPIE,
  PCI_EXP_SLTCTL_PCC,
  PCI_EXP_SLTCTL_PDCE,
  PCI_EXP_SLTSTA_DLLSC,
  PCI_EXP_SLTSTA_PDC,
  PCI_EXP_SLTSTA_PDS,
  PcieRootPort,
  PcieRootPortError,
} from "../../../src/devices/pci/pcie_root_port.ts";
import { le32, testDevice } from "./fixture.ts";

const MIB = 1 << 20;
const port = () =>
  new PcieRootPort({ slotNumber: 2, secondaryBus: 3, windowBase: 0xe000_0000, windowSize: MIB });
const byteAt = (p: PcieRootPort, off: number) => (p.readConfigRegister(off >> 2) >>> (8 * (off & 3))) & 0xff;
const wordAt = (p: PcieRootPort, off: number) =>
  (p.readConfigRegister(off >> 2) >>> (8 * (off & 3))) & 0xffff;
const dwordAt = (p: PcieRootPort, off: number) => p.readConfigRegister(off >> 2) >>> 0;
const le16 = (v: number) => Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
const writeWord = (p: PcieRootPort, off: number, v: number) =>
  p.writeConfigRegister(off >> 2, off & 3, le16(v));
/** Enables MSI and the presence/link interrupts, as pciehp does; returns the recorder of sent messages. */
function armed(p: PcieRootPort): RecordingIrq {
  const irq = new RecordingIrq();
  p.msi.irq = irq;
  writeWord(p, p.msiCap + 2, MSI_ENABLE);
  writeWord(p, p.pcieCap + 0x18, PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_DLLSCE);
  return irq;
}

describe("PCIe root port type 1 header (PCI-to-PCI Bridge spec 1.2 section 3.2)", () => {
  test("reads as class 06 04 with header type 1 and crosvm's IDs 8086:3420", () => {
    const p = port();
    expect(dwordAt(p, 0)).toBe(0x3420_8086);
    expect(dwordAt(p, 8) >>> 8).toBe(0x06_04_00);
    expect(byteAt(p, PCI_HEADER_TYPE)).toBe(1);
  });

  test("primary bus 0, secondary and subordinate bus are the port's bus and ignore writes", () => {
    const p = port();
    p.writeConfigRegister(0x18 / 4, 0, le32(0x00ffff00));
    expect(dwordAt(p, 0x18) & 0xffffff).toBe(0x03_03_00);
  });

  test("the memory base and limit registers hold the window's address bits 31:20", () => {
    const p = port();
    expect(wordAt(p, 0x20)).toBe(0xe000);
    expect(wordAt(p, 0x22)).toBe(0xe000);
  });

  test("I/O and prefetchable windows read zero after a write, so the guest sees none", () => {
    const p = port();
    writeWord(p, 0x1c, 0xe0f0);
    writeWord(p, 0x24, 0xfff0);
    expect(wordAt(p, 0x1c)).toBe(0);
    expect(wordAt(p, 0x24)).toBe(0);
  });

  test("a window that is not 1 MiB granular is refused", () => {
    expect(
      () => new PcieRootPort({ slotNumber: 1, secondaryBus: 1, windowBase: 0xe000_8000, windowSize: MIB }),
    ).toThrow(PcieRootPortError);
  });
});

describe("PCI Express capability (PCIe 4.0 section 7.5.3)", () => {
  test("is first in the list, with version 2, type Root Port and Slot Implemented", () => {
    const p = port();
    expect(byteAt(p, PCI_CAPABILITY_LIST)).toBe(p.pcieCap);
    expect(byteAt(p, p.pcieCap)).toBe(PCI_CAP_ID_EXP);
    expect(wordAt(p, p.pcieCap + 2)).toBe(0x0142);
  });

  test("links to the MSI capability", () => {
    const p = port();
    expect(byteAt(p, p.pcieCap + 1)).toBe(p.msiCap);
    expect(byteAt(p, p.msiCap)).toBe(PCI_CAP_ID_MSI);
  });

  test("link capabilities: 2.5 GT/s, x1, DLL Link Active reporting, port number = slot number", () => {
    expect(dwordAt(port(), port().pcieCap + 0x0c)).toBe(0x0210_0011);
  });

  test("slot capabilities: power controller, hot-plug capable, no command completed, physical slot 2", () => {
    expect(dwordAt(port(), port().pcieCap + 0x14)).toBe((2 << 19) | 0x4_0000 | 0x40 | 0x2);
  });

  test("an empty slot starts powered off with presence and link down", () => {
    const p = port();
    expect(wordAt(p, p.pcieCap + 0x18) & PCI_EXP_SLTCTL_PCC).toBe(PCI_EXP_SLTCTL_PCC);
    expect(wordAt(p, p.pcieCap + 0x1a) & PCI_EXP_SLTSTA_PDS).toBe(0);
    expect(wordAt(p, p.pcieCap + 0x12) & PCI_EXP_LNKSTA_DLLLA).toBe(0);
  });

  test("the link status reports a negotiated width of x1", () => {
    const p = port();
    expect((wordAt(p, p.pcieCap + 0x12) >> 4) & 0x3f).toBe(1);
  });
});

describe("hot-plug slot events (PCIe 4.0 sections 6.7.3, 7.5.3.10-11)", () => {
  test("plug sets presence, link active and the two change events", () => {
    const p = port();
    p.plug(testDevice());
    expect(wordAt(p, p.pcieCap + 0x1a)).toBe(PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    expect(wordAt(p, p.pcieCap + 0x12) & PCI_EXP_LNKSTA_DLLLA).toBe(PCI_EXP_LNKSTA_DLLLA);
  });

  test("plug sends the MSI once when the events are enabled", () => {
    const p = port();
    const irq = armed(p);
    p.plug(testDevice());
    expect(irq.count).toBe(1);
  });

  test("plug sends nothing while MSI is disabled", () => {
    const p = port();
    const irq = armed(p);
    writeWord(p, p.msiCap + 2, 0);
    p.plug(testDevice());
    expect(irq.count).toBe(0);
  });

  test("writing ones to the event bits clears them and leaves presence alone", () => {
    const p = port();
    p.plug(testDevice());
    writeWord(p, p.pcieCap + 0x1a, PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC | PCI_EXP_SLTSTA_PDS);
    expect(wordAt(p, p.pcieCap + 0x1a)).toBe(PCI_EXP_SLTSTA_PDS);
  });

  test("clearing one of two pending events sends the interrupt again for the other", () => {
    const p = port();
    const irq = armed(p);
    p.plug(testDevice());
    writeWord(p, p.pcieCap + 0x1a, PCI_EXP_SLTSTA_PDC);
    expect(irq.count).toBe(2);
  });

  test("enabling the interrupt with an event pending sends it", () => {
    const p = port();
    const irq = new RecordingIrq();
    p.msi.irq = irq;
    writeWord(p, p.msiCap + 2, MSI_ENABLE);
    p.plug(testDevice());
    writeWord(p, p.pcieCap + 0x18, PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_PDCE);
    expect(irq.count).toBe(1);
  });

  test("unplug clears presence and link active and raises the change events", () => {
    const p = port();
    p.plug(testDevice());
    writeWord(p, p.pcieCap + 0x1a, PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    p.unplug();
    expect(wordAt(p, p.pcieCap + 0x1a)).toBe(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
    expect(wordAt(p, p.pcieCap + 0x12) & PCI_EXP_LNKSTA_DLLLA).toBe(0);
  });

  test("the guest turning slot power off is reported", () => {
    const p = port();
    let offs = 0;
    p.onPowerOff = () => offs++;
    writeWord(p, p.pcieCap + 0x18, 0);
    writeWord(p, p.pcieCap + 0x18, PCI_EXP_SLTCTL_PCC);
    expect(offs).toBe(1);
  });

  test("a second device in an occupied slot is refused", () => {
    const p = port();
    p.plug(testDevice());
    expect(() => p.plug(testDevice())).toThrow(PcieRootPortError);
  });
});

describe("memory window forwarding", () => {
  test("an access inside the plugged device's BAR reaches the device at the BAR offset", () => {
    const p = port();
    const seen: [number, number][] = [];
    const d = { ...testDevice(), writeBar: (i: number, off: number) => seen.push([i, off]) };
    d.config.setBarAddress(0, 0xe000_1000);
    p.plug(d);
    p.window().write(0x1010, le32(1));
    expect(seen).toEqual([[0, 0x10]]);
  });

  test("an access outside every BAR reads zero", () => {
    const p = port();
    const d = testDevice();
    d.config.setBarAddress(0, 0xe000_0000);
    p.plug(d);
    const data = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    p.window().read(0x8000, data);
    expect([...data]).toEqual([0, 0, 0, 0]);
  });
});
