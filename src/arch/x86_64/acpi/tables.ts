// Places the ACPI tables in guest memory as crosvm's create_acpi_tables does (x86_64/src/acpi.rs): the RSDP at
// 0xE0000, then FACS, DSDT, FADT, MADT, MCFG and XSDT, each at a 64-byte boundary, all below 1 MiB.
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import { alignUp } from "../bytes.ts";
import {
  ACPI_PM_IO_BASE,
  ACPI_RSDP_ADDR,
  ACPI_TABLES_END,
  LOW_MMIO_START,
  PCIE_ECAM_MAX_BUS,
  PCIE_ECAM_SIZE,
  PCIE_ECAM_START,
  RESET_PORT,
  RESET_VALUE,
  SCI_IRQ,
  highMmioStart,
} from "../layout.ts";
import type { PciIrq } from "../mptable.ts";
import { buildDsdt, ecamReservationAml, pciRootBridgeAml, sleepStatesAml } from "./dsdt.ts";
import { buildFacs } from "./facs.ts";
import { buildFadt } from "./fadt.ts";
import { buildMadt } from "./madt.ts";
import { buildMcfg } from "./mcfg.ts";
import { RSDP_SIZE, buildRsdp } from "./rsdp.ts";
import { buildXsdt } from "./xsdt.ts";

/** Linux with 4-level paging addresses at most 46 physical bits (crosvm HIGH_MMIO_MAX_END). */
const HIGH_MMIO_MAX_END = 2n ** 46n - 1n;
/** crosvm aligns every table to 64 bytes (acpi.rs next_offset). */
const TABLE_ALIGN = 64;

export interface AcpiOptions {
  readonly cpus: number;
  /** Guest RAM size; the high PCI MMIO window starts past it. */
  readonly memBytes: number;
  /** Guest physical address width (CPUID 0x80000008 EAX[7:0]); bounds the high MMIO window. */
  readonly physAddrBits: number;
  readonly sciIrq?: number;
  readonly pmIoBase?: number;
  readonly pciIrqs?: readonly PciIrq[];
  /** The VM has PCIe hot-plug root ports: the host bridge gets an _OSC granting native PCIe control. */
  readonly nativePcieHotplug?: boolean;
  /** More AML for the DSDT (device descriptions from other modules). */
  readonly extraDsdtAml?: readonly Uint8Array[];
}

/** Guest addresses of the tables written. */
export interface AcpiTableAddrs {
  readonly rsdp: number;
  readonly facs: number;
  readonly dsdt: number;
  readonly fadt: number;
  readonly madt: number;
  readonly mcfg: number;
  readonly xsdt: number;
  /** One past the last byte used. */
  readonly end: number;
}

export class AcpiError extends Error {
  override name = "AcpiError";
}

/** The DSDT body crosvm would generate for this VM. */
export function defaultDsdtAml(o: AcpiOptions): Uint8Array[] {
  const highEnd = (() => {
    const phys = (1n << BigInt(o.physAddrBits)) - 1n;
    return phys < HIGH_MMIO_MAX_END ? phys : HIGH_MMIO_MAX_END;
  })();
  return [
    sleepStatesAml(),
    pciRootBridgeAml({
      maxBus: PCIE_ECAM_MAX_BUS,
      lowMmio: [LOW_MMIO_START, PCIE_ECAM_START - 1],
      highMmio: [BigInt(highMmioStart(o.memBytes)), highEnd],
      prt: (o.pciIrqs ?? []).filter((p) => p.bus === 0).map((p) => ({ dev: p.dev, pin: p.pin, gsi: p.gsi })),
      nativePcieControl: o.nativePcieHotplug ?? false,
    }),
    ecamReservationAml(PCIE_ECAM_START, PCIE_ECAM_SIZE),
    ...(o.extraDsdtAml ?? []),
  ];
}

/** Builds and writes all tables; returns where each went. */
export function writeAcpiTables(mem: GuestMemory, o: AcpiOptions): AcpiTableAddrs {
  if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > 255) {
    throw new AcpiError(`ACPI: ${o.cpus} vCPUs is out of range (1..255)`);
  }
  let at = ACPI_RSDP_ADDR;
  const place = (bytes: Uint8Array): number => {
    const addr = at;
    if (addr + bytes.length > ACPI_TABLES_END) {
      throw new AcpiError(`ACPI tables do not fit below 0x${ACPI_TABLES_END.toString(16)}`);
    }
    mem.write(addr, bytes);
    at = alignUp(addr + bytes.length, TABLE_ALIGN);
    return addr;
  };
  const rsdp = at;
  at = alignUp(rsdp + RSDP_SIZE, TABLE_ALIGN); // the RSDP is written last, once the XSDT address is known
  const facs = place(buildFacs());
  const dsdt = place(buildDsdt(defaultDsdtAml(o)));
  const fadt = place(
    buildFadt({
      sciIrq: o.sciIrq ?? SCI_IRQ,
      pmIoBase: o.pmIoBase ?? ACPI_PM_IO_BASE,
      resetPort: RESET_PORT,
      resetValue: RESET_VALUE,
      facsAddr: facs,
      dsdtAddr: dsdt,
    }),
  );
  const madt = place(buildMadt({ cpus: o.cpus, pciGsis: (o.pciIrqs ?? []).map((p) => p.gsi) }));
  const mcfg = place(buildMcfg(PCIE_ECAM_START, 0, PCIE_ECAM_MAX_BUS));
  const xsdt = place(buildXsdt([fadt, madt, mcfg]));
  const end = at;
  mem.write(rsdp, buildRsdp(xsdt));
  return { rsdp, facs, dsdt, fadt, madt, mcfg, xsdt, end };
}
