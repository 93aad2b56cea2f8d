// A level-triggered interrupt line, for devices whose interrupt stays asserted while a condition holds (the ACPI
// SCI). Edge interrupts go through irqfds (../irq.ts); a level line is set and cleared with KVM_IRQ_LINE on the VM
// fd (include/uapi/linux/kvm.h: struct kvm_irq_level { __u32 irq; __u32 level; }, ioctl KVM_IRQ_LINE =
// _IOW(KVMIO, 0x61, struct kvm_irq_level), both in ffi/). KVM's IOAPIC re-delivers a level interrupt that is still
// asserted at EOI, so the device only reports changes of level. The VM fd is process-wide, so a vCPU Worker revives
// its own line over the same fd.
import { encodeIrqLevel } from "../../../ffi/kvm_structs.ts";
import { KVM_IRQ_LINE } from "../../../ffi/kvm.ts";
import { ioctl } from "../../../ffi/libc.ts";
import { GuestLog } from "../../base/guest_log.ts";
import { logger } from "../../base/log.ts";

const log = new GuestLog(logger("devices::acpi"), "acpi");

export type IrqLevelShare =
  | { readonly kind: "kvm-irq-line"; readonly vmFd: number; readonly gsi: number }
  | { readonly kind: "recording"; readonly cells: SharedArrayBuffer };

export interface IrqLevel {
  /** Asserts (true) or deasserts (false) the line. Never throws: a failure is logged. */
  setLevel(high: boolean): void;
  /** Structured-cloneable description, for reviveIrqLevel in another thread. */
  share(): IrqLevelShare;
}

/** A GSI of KVM's in-kernel irqchip, driven with KVM_IRQ_LINE. */
export class KvmIrqLine implements IrqLevel {
  constructor(
    readonly vmFd: number,
    readonly gsi: number,
  ) {}

  setLevel(high: boolean): void {
    try {
      ioctl(
        this.vmFd,
        KVM_IRQ_LINE,
        encodeIrqLevel(this.gsi, high ? 1 : 0),
        "KVM_IRQ_LINE",
        `GSI ${this.gsi}`,
      );
    } catch (e) {
      log.error(
        "irq line",
        `setting GSI ${this.gsi} ${high ? "high" : "low"} failed: ${(e as Error).message}`,
      );
    }
  }

  share(): IrqLevelShare {
    return { kind: "kvm-irq-line", vmFd: this.vmFd, gsi: this.gsi };
  }
}

// Cells of RecordingIrqLevel: the current level, how many times it went high, how many times it went low.
const LEVEL = 0;
const RAISES = 1;
const LOWERS = 2;
const CELLS = 3;

/** Records the level in shared memory instead of raising anything; for unit tests, also across Workers. */
export class RecordingIrqLevel implements IrqLevel {
  readonly #cells: Int32Array;

  constructor(cells: SharedArrayBuffer = new SharedArrayBuffer(CELLS * 4)) {
    this.#cells = new Int32Array(cells, 0, CELLS);
  }

  setLevel(high: boolean): void {
    Atomics.store(this.#cells, LEVEL, high ? 1 : 0);
    Atomics.add(this.#cells, high ? RAISES : LOWERS, 1);
  }

  get high(): boolean {
    return Atomics.load(this.#cells, LEVEL) === 1;
  }
  get raises(): number {
    return Atomics.load(this.#cells, RAISES);
  }
  get lowers(): number {
    return Atomics.load(this.#cells, LOWERS);
  }

  share(): IrqLevelShare {
    return { kind: "recording", cells: this.#cells.buffer as SharedArrayBuffer };
  }
}

/** Rebuilds a line from IrqLevel.share(); throws on malformed data (a VMM bug, not guest input). */
export function reviveIrqLevel(share: unknown): IrqLevel {
  const s = share as Partial<{ kind: string; vmFd: number; gsi: number; cells: SharedArrayBuffer }> | null;
  if (s?.kind === "kvm-irq-line" && Number.isInteger(s.vmFd) && Number.isInteger(s.gsi))
    return new KvmIrqLine(s.vmFd!, s.gsi!);
  if (s?.kind === "recording" && s.cells instanceof SharedArrayBuffer && s.cells.byteLength >= CELLS * 4)
    return new RecordingIrqLevel(s.cells);
  throw new Error("irq level line: malformed shared state");
}
