// Fixed ACPI Description Table, revision 6.3 (ACPI 6.4 §5.2.9 Table 5.9), filled as crosvm's create_facp_table and
// write_facp_overrides (x86_64/src/acpi.rs): SCI line, the ACPI PM device's PM1a event/control and GPE0 blocks
// (crosvm devices/src/acpi.rs layout: PM1 event 4 bytes at base, PM1 control 2 bytes at base+4, GPE0 64 bytes at
// base+8), no SMI command port (the platform is always in ACPI mode), a reset register, and 64-bit pointers to
// the FACS and DSDT. Not hardware-reduced: the power button is the fixed-feature PM1 PWRBTN event.
import { LeBytes } from "../bytes.ts";
import { Sdt } from "./sdt.ts";

export const FADT_SIZE = 276;
export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 3;

/** Field offsets (Table 5.9). */
export const FADT = {
  firmwareCtrl: 36,
  dsdt: 40,
  sciInt: 46,
  smiCmd: 48,
  pm1aEvtBlk: 56,
  pm1bEvtBlk: 60,
  pm1aCntBlk: 64,
  pm1bCntBlk: 68,
  pm2CntBlk: 72,
  pmTmrBlk: 76,
  gpe0Blk: 80,
  gpe1Blk: 84,
  pm1EvtLen: 88,
  pm1CntLen: 89,
  pm2CntLen: 90,
  pmTmrLen: 91,
  gpe0BlkLen: 92,
  gpe1BlkLen: 93,
  gpe1Base: 94,
  dayAlarm: 106,
  monthAlarm: 107,
  century: 108,
  iapcBootArch: 109,
  flags: 112,
  resetReg: 116,
  resetValue: 128,
  minorRevision: 131,
  xFirmwareCtrl: 132,
  xDsdt: 140,
  hypervisorVendorId: 268,
} as const;

/** FADT flags (Table 5.10): bit 4 PWR_BUTTON set would mean a control-method power button; we leave it clear. */
export const FADT_FLAG_RESET_REG_SUP = 1 << 10;

/** crosvm's ACPI PM block sizes (devices/src/acpi.rs ACPIPM_RESOURCE_*). */
export const PM1_EVT_LEN = 4;
export const PM1_CNT_LEN = 2;
export const GPE0_BLK_LEN = 64;
/** PM1 control follows the event block; GPE0 starts 4 bytes after PM1 control "to ensure alignment". */
export const PM1_CNT_OFFSET = PM1_EVT_LEN;
export const GPE0_OFFSET = PM1_EVT_LEN + 4;
/** Bytes of I/O space the ACPI PM device decodes from its base. */
export const ACPI_PM_IO_LEN = PM1_EVT_LEN + 4 + GPE0_BLK_LEN;

/** CMOS registers holding the century and the alarm day/month (crosvm devices/src/cmos.rs RTC_REG_*). */
export const RTC_REG_ALARM_DAY = 0x33;
export const RTC_REG_ALARM_MONTH = 0x34;
export const RTC_REG_CENTURY = 0x32;

/** Generic Address Structure address space id for system I/O (§5.2.3.2 Table 5.1). */
const GAS_SYSTEM_IO = 1;
/** GAS access size 1 = byte access. */
const GAS_ACCESS_BYTE = 1;

export interface FadtOptions {
  readonly sciIrq: number;
  readonly pmIoBase: number;
  readonly resetPort: number;
  readonly resetValue: number;
  readonly facsAddr: number;
  readonly dsdtAddr: number;
}

export function buildFadt(o: FadtOptions): Uint8Array {
  const fadt = new Sdt("FACP", FADT_SIZE, FADT_REVISION);
  const f: LeBytes = fadt.fields;
  f.setU16(FADT.sciInt, o.sciIrq)
    .setU32(FADT.smiCmd, 0)
    .setU32(FADT.pm1aEvtBlk, o.pmIoBase)
    .setU32(FADT.pm1aCntBlk, o.pmIoBase + PM1_CNT_OFFSET)
    .setU32(FADT.gpe0Blk, o.pmIoBase + GPE0_OFFSET)
    .setU8(FADT.pm1EvtLen, PM1_EVT_LEN)
    .setU8(FADT.pm1CntLen, PM1_CNT_LEN)
    .setU8(FADT.gpe0BlkLen, GPE0_BLK_LEN)
    .setU8(FADT.dayAlarm, RTC_REG_ALARM_DAY)
    .setU8(FADT.monthAlarm, RTC_REG_ALARM_MONTH)
    .setU8(FADT.century, RTC_REG_CENTURY)
    .setU32(FADT.flags, FADT_FLAG_RESET_REG_SUP)
    .setU8(FADT.resetReg, GAS_SYSTEM_IO)
    .setU8(FADT.resetReg + 1, 8) // register bit width
    .setU8(FADT.resetReg + 2, 0) // bit offset
    .setU8(FADT.resetReg + 3, GAS_ACCESS_BYTE)
    .setU64(FADT.resetReg + 4, o.resetPort)
    .setU8(FADT.resetValue, o.resetValue)
    .setU8(FADT.minorRevision, FADT_MINOR_REVISION)
    .setU64(FADT.xFirmwareCtrl, o.facsAddr)
    .setU64(FADT.xDsdt, o.dsdtAddr)
    .setAscii(FADT.hypervisorVendorId, "CROSVM", 8);
  return fadt.bytes();
}
