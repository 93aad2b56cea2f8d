// The ACPI power-management fixed hardware (crosvm devices/src/acpi.rs ACPIPMResource) at the I/O ports the FADT
// announces (src/arch/x86_64/acpi/fadt.ts): the PM1a event block (PM1_STS u16 at +0, PM1_EN u16 at +2), the PM1a
// control register (u16 at +4; +6..+7 unused) and the GPE0 block (32 status bytes at +8, 32 enable bytes at +40).
//
// - Status bits (PM1_STS, GPE0_STS) are set by the device and cleared by the guest writing 1 to them (ACPI 6.4
//   §4.8.4.1.1 and §4.8.5.1.1.1); enable registers are plain read/write.
// - The SCI is a level interrupt, asserted while SCI_EN (PM1_CNT bit 0) is set and an enabled fixed event
//   (PM1_STS & PM1_EN over GBL, PWRBTN, SLPBTN, RTC, as crosvm) or an enabled GPE (GPE0_STS & GPE0_EN) is pending.
//   The FADT has no SMI_CMD port, so the platform is always in ACPI mode (§4.8.3.4): SCI_EN reads 1 from power-on,
//   as QEMU's acpi-only PM1 does. The guest may still write it (Linux preserves it).
// - Writing PM1_CNT with SLP_EN (bit 13, write-only: always reads 0) requests the sleep state in SLP_TYP (bits
//   12:10, §4.8.4.2.1). The DSDT's \_S5_ value powers the VM off by signalling the poweroff eventfd. Other states
//   (crosvm's S1 suspend) are not implemented: the request is logged and WAK_STS is set at once, so a guest that
//   polls WAK_STS after SLP_EN (ACPICA acpi_hw_legacy_sleep) sees an immediate wake instead of spinning forever.
// - PM1 registers take byte or word accesses within one register; GPE0 registers take byte accesses (§4.8.5.1:
//   "each register in the block is accessed as a byte"). Other accesses read zeros and are ignored, as crosvm.
//
// The registers live in a SharedArrayBuffer with the I/O layout, so every vCPU Worker revives its own instance;
// the Bus holds `mutex` around guest accesses and pressPowerButton() takes it on the main thread.
import { eventfdWrite } from "../../../ffi/libc.ts";
import { SLP_TYP_S5 } from "../../arch/x86_64/acpi/dsdt.ts";
import {
  ACPI_PM_IO_LEN,
  GPE0_BLK_LEN,
  GPE0_OFFSET,
  PM1_CNT_LEN,
  PM1_CNT_OFFSET,
  PM1_EVT_LEN,
} from "../../arch/x86_64/acpi/fadt.ts";
import { ACPI_PM_IO_BASE } from "../../arch/x86_64/layout.ts";
import { GuestLog } from "../../base/guest_log.ts";
import { logger } from "../../base/log.ts";
import { SharedMutex } from "../../base/shared_mutex.ts";
import { registerDeviceKind, type DeviceShare, type ShareableDevice } from "../shared_device.ts";
import { type IrqLevel, type IrqLevelShare, reviveIrqLevel } from "./irq_level.ts";
import { ResetControl } from "./reset_control.ts";

const log = logger("devices::acpi");
/** The guest picks the sleep type: its warnings are rate-limited. */
const guestLog = new GuestLog(log, "acpi pm");

export const ACPI_PM_KIND = "acpi-pm";

/** Register offsets from the device's base, as the FADT announces them. */
export const PM1_STS_OFFSET = 0;
export const PM1_EN_OFFSET = PM1_EVT_LEN / 2;
export { PM1_CNT_OFFSET };
export const GPE0_STS_OFFSET = GPE0_OFFSET;
export const GPE0_EN_OFFSET = GPE0_OFFSET + GPE0_BLK_LEN / 2;
const PM1_REG_LEN = PM1_EVT_LEN / 2;
const GPE0_REG_LEN = GPE0_BLK_LEN / 2;

/** PM1 status/enable bits (ACPI 6.4 Tables 4.11, 4.12). */
export const PM1_GBL = 1 << 5;
export const PM1_PWRBTN = 1 << 8;
export const PM1_SLPBTN = 1 << 9;
export const PM1_RTC = 1 << 10;
/** PM1_STS only: set when the system returns to the working state. */
export const PM1_WAK_STS = 1 << 15;
/** The fixed events that raise the SCI (crosvm ACPIPMFixedEvent::bitmask_all). */
const PM1_SCI_EVENTS = PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC;

/** PM1 control bits (ACPI 6.4 Table 4.13). */
export const PM1_CNT_SCI_EN = 1 << 0;
export const PM1_CNT_SLP_TYP_SHIFT = 10;
export const PM1_CNT_SLP_TYP_MASK = 0x7 << PM1_CNT_SLP_TYP_SHIFT;
export const PM1_CNT_SLP_EN = 1 << 13;

// Shared state: the register file in I/O layout, then one byte holding the SCI level last given to the line.
const SCI_LEVEL_BYTE = ACPI_PM_IO_LEN;
const STATE_BYTES = ACPI_PM_IO_LEN + 1;

export interface AcpiPmOptions {
  readonly irqLevel: IrqLevel;
  /** Signalled (eventfd write of 1) when the guest enters S5. */
  readonly poweroffEventFd: number;
}

export interface AcpiPmState {
  readonly regs: SharedArrayBuffer;
  readonly mutex: SharedArrayBuffer;
  readonly sci: IrqLevelShare;
  readonly poweroffEventFd: number;
}

type Register = "pm1Sts" | "pm1En" | "pm1Cnt" | "gpe0Sts" | "gpe0En";

/** Which register holds [offset, offset+len), or undefined for an access the device refuses. */
function decode(offset: number, len: number): Register | undefined {
  const within = (start: number, regLen: number, maxAccess: number) =>
    offset >= start && offset + len <= start + regLen && len <= maxAccess;
  if (within(PM1_STS_OFFSET, PM1_REG_LEN, 2)) return "pm1Sts";
  if (within(PM1_EN_OFFSET, PM1_REG_LEN, 2)) return "pm1En";
  if (within(PM1_CNT_OFFSET, PM1_CNT_LEN, 2)) return "pm1Cnt";
  if (within(GPE0_STS_OFFSET, GPE0_REG_LEN, 1)) return "gpe0Sts";
  if (within(GPE0_EN_OFFSET, GPE0_REG_LEN, 1)) return "gpe0En";
  return undefined;
}

export class AcpiPm implements ShareableDevice {
  readonly debugLabel = "ACPI PM";
  readonly mutex: SharedMutex;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #sci: IrqLevel;
  readonly #poweroffEventFd: number;

  constructor(opts: AcpiPmOptions, shared?: { regs: SharedArrayBuffer; mutex: SharedArrayBuffer }) {
    this.mutex = new SharedMutex(shared?.mutex);
    const regs = shared?.regs ?? new SharedArrayBuffer(STATE_BYTES);
    this.#bytes = new Uint8Array(regs, 0, STATE_BYTES);
    this.#view = new DataView(regs, 0, STATE_BYTES);
    this.#sci = opts.irqLevel;
    this.#poweroffEventFd = opts.poweroffEventFd;
    if (!shared) this.#setU16(PM1_CNT_OFFSET, PM1_CNT_SCI_EN);
  }

  static revive(state: unknown): AcpiPm {
    const s = state as Partial<AcpiPmState> | null;
    if (
      typeof s !== "object" ||
      s === null ||
      !(s.regs instanceof SharedArrayBuffer) ||
      s.regs.byteLength < STATE_BYTES ||
      !(s.mutex instanceof SharedArrayBuffer) ||
      !Number.isInteger(s.poweroffEventFd)
    )
      throw new Error(`device kind "${ACPI_PM_KIND}": malformed shared state`);
    return new AcpiPm(
      { irqLevel: reviveIrqLevel(s.sci), poweroffEventFd: s.poweroffEventFd! },
      { regs: s.regs, mutex: s.mutex },
    );
  }

  share(): DeviceShare {
    const state: AcpiPmState = {
      regs: this.#bytes.buffer as SharedArrayBuffer,
      mutex: this.mutex.buffer,
      sci: this.#sci.share(),
      poweroffEventFd: this.#poweroffEventFd,
    };
    return { kind: ACPI_PM_KIND, state };
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (!decode(offset, data.length)) {
      log.debug(`refused ${data.length}-byte read at offset ${offset}`);
      return;
    }
    data.set(this.#bytes.subarray(offset, offset + data.length));
    // SLP_EN is write-only; it is never stored, so the copy above already reads it as 0.
  }

  write(offset: number, data: Uint8Array): void {
    const reg = decode(offset, data.length);
    if (!reg) {
      log.debug(`refused ${data.length}-byte write at offset ${offset}`);
      return;
    }
    switch (reg) {
      case "pm1Sts":
      case "gpe0Sts":
        for (let i = 0; i < data.length; i++) this.#bytes[offset + i]! &= ~data[i]!;
        break;
      case "pm1En":
      case "gpe0En":
        this.#bytes.set(data, offset);
        break;
      case "pm1Cnt":
        this.#writeControl(offset, data);
        break;
    }
    this.#updateSci();
  }

  /** Main thread: the power button was pressed (VmRequest::Powerbtn). */
  pressPowerButton(): void {
    this.mutex.with(() => {
      this.#setU16(PM1_STS_OFFSET, this.#u16(PM1_STS_OFFSET) | PM1_PWRBTN);
      this.#updateSci();
    });
  }

  /** Main thread: general-purpose event `gpe` (0..255) occurred (crosvm PmResource::gpe_evt). */
  raiseGpe(gpe: number): void {
    if (!Number.isInteger(gpe) || gpe < 0 || gpe >= GPE0_REG_LEN * 8)
      throw new RangeError(`ACPI PM: GPE ${gpe} is out of range (0..${GPE0_REG_LEN * 8 - 1})`);
    this.mutex.with(() => {
      this.#bytes[GPE0_STS_OFFSET + (gpe >> 3)]! |= 1 << (gpe & 7);
      this.#updateSci();
    });
  }

  #writeControl(offset: number, data: Uint8Array): void {
    const merged = new Uint8Array(this.#bytes.subarray(PM1_CNT_OFFSET, PM1_CNT_OFFSET + PM1_CNT_LEN));
    merged.set(data, offset - PM1_CNT_OFFSET);
    const value = merged[0]! | (merged[1]! << 8);
    this.#setU16(PM1_CNT_OFFSET, value & ~PM1_CNT_SLP_EN);
    if (value & PM1_CNT_SLP_EN) this.#sleep((value & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT);
  }

  #sleep(slpTyp: number): void {
    if (slpTyp === SLP_TYP_S5) {
      log.info("the guest entered S5 (soft off)");
      try {
        eventfdWrite(this.#poweroffEventFd, 1n);
      } catch (e) {
        log.error(`failed to signal the poweroff event: ${(e as Error).message}`);
      }
      return;
    }
    guestLog.warn("sleep type", `sleep type ${slpTyp} is not supported; reporting an immediate wake`);
    this.#setU16(PM1_STS_OFFSET, this.#u16(PM1_STS_OFFSET) | PM1_WAK_STS);
  }

  /** Drives the SCI line to what the registers call for; only changes reach the line. */
  #updateSci(): void {
    let pending = (this.#u16(PM1_STS_OFFSET) & this.#u16(PM1_EN_OFFSET) & PM1_SCI_EVENTS) !== 0;
    for (let i = 0; !pending && i < GPE0_REG_LEN; i++)
      pending = (this.#bytes[GPE0_STS_OFFSET + i]! & this.#bytes[GPE0_EN_OFFSET + i]!) !== 0;
    const level = pending && (this.#u16(PM1_CNT_OFFSET) & PM1_CNT_SCI_EN) !== 0;
    if ((this.#bytes[SCI_LEVEL_BYTE] === 1) === level) return;
    this.#bytes[SCI_LEVEL_BYTE] = level ? 1 : 0;
    this.#sci.setLevel(level);
  }

  #u16(offset: number): number {
    return this.#view.getUint16(offset, true);
  }

  #setU16(offset: number, value: number): void {
    this.#view.setUint16(offset, value & 0xffff, true);
  }
}

registerDeviceKind(ACPI_PM_KIND, (state) => AcpiPm.revive(state));

export interface AcpiPmFactoryOptions {
  /** The SCI's GSI, as the FADT announces it (layout.ts SCI_IRQ); irqLevel must drive this line. */
  readonly sciGsi: number;
  readonly irqLevel: IrqLevel;
  readonly poweroffEventFd: number;
  /** Written when the guest writes the FADT reset register; see reset_control.ts for where it is decoded. */
  readonly resetEventFd: number;
  /** I/O port of PM1_STS; the FADT's pmIoBase (default ACPI_PM_IO_BASE). */
  readonly base?: number;
}

export interface AcpiPmDevices {
  readonly io: { device: ShareableDevice; base: number; len: number }[];
  readonly device: AcpiPm;
  /** Main thread, for the control socket's Powerbtn request. */
  pressPowerButton(): void;
  /**
   * The FADT reset register's decoder, NOT in `io`: port 0xCF9 lies in the PCI config window 0xCF8..0xCFF. Insert
   * it at RESET_PORT (length RESET_CONTROL_LEN) only while no PCI config device is on the I/O bus; otherwise the
   * PCI config device forwards its offset-1 byte writes to writeResetControl (reset_control.ts).
   */
  readonly resetControl: ResetControl;
}

/** Builds the ACPI PM device for the run loop: insert `io` on the I/O bus, hand pressPowerButton to Powerbtn. */
export function createAcpiPm(opts: AcpiPmFactoryOptions): AcpiPmDevices {
  const base = opts.base ?? ACPI_PM_IO_BASE;
  const line = opts.irqLevel.share();
  if (line.kind === "kvm-irq-line" && line.gsi !== opts.sciGsi)
    throw new Error(`ACPI PM: the SCI line drives GSI ${line.gsi}, but the SCI is GSI ${opts.sciGsi}`);
  const device = new AcpiPm({ irqLevel: opts.irqLevel, poweroffEventFd: opts.poweroffEventFd });
  return {
    io: [{ device, base, len: ACPI_PM_IO_LEN }],
    device,
    resetControl: new ResetControl(opts.resetEventFd),
    pressPowerButton: () => device.pressPowerButton(),
  };
}
