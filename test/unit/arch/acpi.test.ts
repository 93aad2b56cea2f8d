import { describe, expect, test } from "bun:test";
import { FADT, FADT_SIZE } from "../../../src/arch/x86_64/acpi/fadt.ts";
import { writeAcpiTables, type AcpiOptions } from "../../../src/arch/x86_64/acpi/tables.ts";
import { LeBytes, byteSum } from "../../../src/arch/x86_64/bytes.ts";
import { MIB } from "../../../src/arch/x86_64/layout.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { guestMemory } from "./fake_kernels.ts";

interface Table {
  addr: number;
  sig: string;
  revision: number;
  body: LeBytes;
  checksumOk: boolean;
}

function readTable(mem: GuestMemory, addr: number): Table {
  const length = mem.readU32(addr + 4);
  const bytes = mem.read(addr, length);
  const t = new LeBytes(bytes);
  return { addr, sig: t.ascii(0, 4), revision: t.u8(8), body: t, checksumOk: byteSum(bytes) === 0 };
}

function setup(o: Partial<AcpiOptions> = {}) {
  const mem = guestMemory(64);
  const addrs = writeAcpiTables(mem, { cpus: 2, memBytes: 64 * MIB, physAddrBits: 40, ...o });
  const rsdp = new LeBytes(mem.read(0xe0000, 36));
  const xsdt = readTable(mem, Number(rsdp.u64(24)));
  const entries = Array.from({ length: (xsdt.body.length - 36) / 8 }, (_, i) =>
    readTable(mem, Number(xsdt.body.u64(36 + 8 * i))),
  );
  const bySig = (sig: string) => entries.find((t) => t.sig === sig)!;
  return { mem, addrs, rsdp, xsdt, entries, bySig };
}

describe("RSDP", () => {
  test("sits at 0xE0000 with revision 2 and both checksums valid", () => {
    const { rsdp, addrs } = setup();
    expect(addrs.rsdp).toBe(0xe0000);
    expect(rsdp.ascii(0, 8)).toBe("RSD PTR ");
    expect(rsdp.u8(15)).toBe(2);
    expect(rsdp.u32(20)).toBe(36);
    expect(byteSum(rsdp.bytes.subarray(0, 20))).toBe(0);
    expect(byteSum(rsdp.bytes)).toBe(0);
  });

  test("points only at the XSDT", () => {
    const { rsdp, addrs } = setup();
    expect(rsdp.u32(16)).toBe(0);
    expect(Number(rsdp.u64(24))).toBe(addrs.xsdt);
  });
});

describe("XSDT", () => {
  test("lists FADT, MADT and MCFG, each with a valid checksum", () => {
    const { xsdt, entries } = setup();
    expect(xsdt.sig).toBe("XSDT");
    expect(xsdt.checksumOk).toBe(true);
    expect(entries.map((t) => t.sig)).toEqual(["FACP", "APIC", "MCFG"]);
    expect(entries.every((t) => t.checksumOk)).toBe(true);
  });

  test("every table lies 64-byte aligned below 1 MiB", () => {
    const { addrs } = setup();
    for (const a of [addrs.facs, addrs.dsdt, addrs.fadt, addrs.madt, addrs.mcfg, addrs.xsdt])
      expect(a % 64).toBe(0);
    expect(addrs.end).toBeLessThanOrEqual(0x100000);
  });
});

describe("FADT", () => {
  test("is revision 6.3 and 276 bytes", () => {
    const fadt = setup().bySig("FACP");
    expect(fadt.revision).toBe(6);
    expect(fadt.body.length).toBe(FADT_SIZE);
    expect(fadt.body.u8(FADT.minorRevision)).toBe(3);
  });

  test("points at the FACS and DSDT through the 64-bit fields", () => {
    const { bySig, mem, addrs } = setup();
    const fadt = bySig("FACP").body;
    expect(Number(fadt.u64(FADT.xDsdt))).toBe(addrs.dsdt);
    expect(Number(fadt.u64(FADT.xFirmwareCtrl))).toBe(addrs.facs);
    expect(fadt.u32(FADT.dsdt)).toBe(0);
    const facs = new LeBytes(mem.read(addrs.facs, 64));
    expect([facs.ascii(0, 4), facs.u32(4)]).toEqual(["FACS", 64]);
  });

  test("describes the SCI and the ACPI PM blocks", () => {
    const fadt = setup({ sciIrq: 9, pmIoBase: 0x700 }).bySig("FACP").body;
    expect(fadt.u16(FADT.sciInt)).toBe(9);
    expect(fadt.u32(FADT.smiCmd)).toBe(0);
    expect([fadt.u32(FADT.pm1aEvtBlk), fadt.u8(FADT.pm1EvtLen)]).toEqual([0x700, 4]);
    expect([fadt.u32(FADT.pm1aCntBlk), fadt.u8(FADT.pm1CntLen)]).toEqual([0x704, 2]);
    expect([fadt.u32(FADT.gpe0Blk), fadt.u8(FADT.gpe0BlkLen)]).toEqual([0x708, 64]);
    expect(fadt.u32(FADT.pmTmrBlk)).toBe(0);
  });

  test("defaults to crosvm's SCI 5 and PM base 0x600", () => {
    const fadt = setup().bySig("FACP").body;
    expect([fadt.u16(FADT.sciInt), fadt.u32(FADT.pm1aEvtBlk)]).toEqual([5, 0x600]);
  });

  test("resets through I/O port 0xCF9 with value 6", () => {
    const fadt = setup().bySig("FACP").body;
    expect(fadt.u32(FADT.flags) & (1 << 10)).not.toBe(0);
    expect([fadt.u8(FADT.resetReg), fadt.u8(FADT.resetReg + 1), fadt.u8(FADT.resetReg + 3)]).toEqual([
      1, 8, 1,
    ]);
    expect(fadt.u64(FADT.resetReg + 4)).toBe(0xcf9n);
    expect(fadt.u8(FADT.resetValue)).toBe(6);
  });

  test("is not hardware-reduced and uses a fixed power button", () => {
    const flags = setup().bySig("FACP").body.u32(FADT.flags);
    expect(flags & (1 << 20)).toBe(0);
    expect(flags & (1 << 4)).toBe(0);
  });
});

describe("MADT", () => {
  function entries(madt: LeBytes) {
    const out: { type: number; bytes: LeBytes }[] = [];
    for (let at = 44; at < madt.length; at += madt.u8(at + 1)) {
      out.push({ type: madt.u8(at), bytes: new LeBytes(madt.bytes.subarray(at, at + madt.u8(at + 1))) });
    }
    return out;
  }

  test("names the local APIC address with PCAT_COMPAT", () => {
    const madt = setup().bySig("APIC");
    expect(madt.revision).toBe(5);
    expect([madt.body.u32(36), madt.body.u32(40)]).toEqual([0xfee0_0000, 1]);
  });

  test("has one enabled local APIC per vCPU with ID = index", () => {
    const lapics = entries(setup({ cpus: 3 }).bySig("APIC").body).filter((e) => e.type === 0);
    expect(lapics.map((e) => [e.bytes.u8(2), e.bytes.u8(3), e.bytes.u32(4)])).toEqual([
      [0, 0, 1],
      [1, 1, 1],
      [2, 2, 1],
    ]);
  });

  test("has one IOAPIC at 0xFEC00000 with GSI base 0", () => {
    const ioapics = entries(setup().bySig("APIC").body).filter((e) => e.type === 1);
    expect(ioapics.map((e) => [e.bytes.u8(1), e.bytes.u32(4), e.bytes.u32(8)])).toEqual([
      [12, 0xfec0_0000, 0],
    ]);
  });

  test("overrides each PCI GSI once as level-triggered active-low", () => {
    const pciIrqs = [
      { bus: 0, dev: 1, pin: 0, gsi: 10 },
      { bus: 0, dev: 2, pin: 0, gsi: 10 },
      { bus: 0, dev: 3, pin: 0, gsi: 9 },
    ];
    const isos = entries(setup({ pciIrqs }).bySig("APIC").body).filter((e) => e.type === 2);
    expect(isos.map((e) => [e.bytes.u8(3), e.bytes.u32(4), e.bytes.u16(8)])).toEqual([
      [9, 9, 0xf],
      [10, 10, 0xf],
    ]);
  });

  test("has no overrides without PCI INTx lines", () => {
    expect(entries(setup().bySig("APIC").body).filter((e) => e.type === 2)).toHaveLength(0);
  });
});

describe("MCFG", () => {
  test("maps the ECAM window at 0xF4000000 for buses 0-63 of segment 0", () => {
    const mcfg = setup().bySig("MCFG");
    expect(mcfg.body.length).toBe(60);
    expect(mcfg.body.u64(44)).toBe(0xf400_0000n);
    expect([mcfg.body.u16(52), mcfg.body.u8(54), mcfg.body.u8(55)]).toEqual([0, 0, 63]);
  });
});

describe("DSDT", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

  test("has a valid header and checksum", () => {
    const { mem, addrs } = setup();
    const dsdt = readTable(mem, addrs.dsdt);
    expect([dsdt.sig, dsdt.revision, dsdt.checksumOk]).toEqual(["DSDT", 6, true]);
  });

  test("defines \\_S5_ so the guest can power off", () => {
    const { mem, addrs } = setup();
    expect(hex(readTable(mem, addrs.dsdt).body.bytes)).toContain("085f53355f12060400000000");
  });

  test("defines the PCI host bridge \\_SB_.PC00 as PNP0A08", () => {
    const { mem, addrs } = setup();
    const body = hex(readTable(mem, addrs.dsdt).body.bytes);
    expect(body).toContain("5c2e5f53425f50433030");
    expect(body).toContain("085f4849440c41d00a08");
  });

  test("has no _OSC without hot-plug root ports, so firmware keeps PCIe control as before", () => {
    const { mem, addrs } = setup();
    expect(hex(readTable(mem, addrs.dsdt).body.bytes)).not.toContain("5f4f5343");
  });

  test("with hot-plug root ports the host bridge's _OSC returns the OS's buffer (grants native control)", () => {
    const { mem, addrs } = setup({ nativePcieHotplug: true });
    expect(hex(readTable(mem, addrs.dsdt).body.bytes)).toContain("14085f4f534304a46b");
  });

  test("carries extra AML from devices", () => {
    const { mem, addrs } = setup({ extraDsdtAml: [Uint8Array.of(0x08, 0x54, 0x45, 0x53, 0x54, 0x0a, 0x2a)] });
    expect(hex(readTable(mem, addrs.dsdt).body.bytes).endsWith("0854455354" + "0a2a")).toBe(true);
  });
});

describe("limits", () => {
  test("refuses 256 vCPUs", () => {
    expect(() => setup({ cpus: 256 })).toThrow(/out of range/);
  });
});
