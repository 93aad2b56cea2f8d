// A type 0 PCI configuration header and capability list (PCI Local Bus 3.0 section 6.1, 6.2.5 BARs, 6.7
// capabilities). Registers are kept as 64 dwords with a per-bit write mask: guest writes change only writable
// bits, so BAR sizing (write all ones, read back ~(size-1) | flags) falls out of the mask.

/** Offsets in the type 0 header (PCI 3.0 figure 6-1). */
export const PCI_VENDOR_ID = 0x00;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_CLASS_REVISION = 0x08;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
/** Size of the conventional configuration space; ECAM's extended space above it reads as zero. */
export const PCI_CONFIG_SPACE_SIZE = 256;
export const PCI_CONFIG_REGS = PCI_CONFIG_SPACE_SIZE / 4;
export const PCI_BAR_COUNT = 6;
/** First byte available to capabilities (after the 64-byte header). */
export const PCI_CAP_START = 0x40;

/** Command register bits (6.2.2). */
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
/** Status register: Capabilities List (6.2.3). */
export const PCI_STATUS_CAP_LIST = 0x10;

/** BAR low bits (6.2.5.1). */
export const PCI_BAR_IO = 0x1;
export const PCI_BAR_MEM_TYPE_64 = 0x4;
export const PCI_BAR_MEM_PREFETCH = 0x8;

export type BarKind = "mem32" | "mem64" | "io";

export interface BarSpec {
  readonly index: number;
  /** Power of two; at least 16 for memory BARs, 4 for I/O BARs. */
  readonly size: number;
  readonly kind: BarKind;
  readonly prefetchable?: boolean;
}

export interface PciHeader {
  readonly vendorId: number;
  readonly deviceId: number;
  readonly classCode: number;
  readonly subclass: number;
  readonly progIf?: number;
  readonly revision?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 1 = INTA# ... 4 = INTD#, 0 = none. */
  readonly interruptPin?: number;
  /** Header Type (0x0E) layout: 0 = a function, 1 = a PCI-to-PCI bridge (PCI-to-PCI Bridge spec 1.2 section 3.2). */
  readonly headerType?: number;
}

export class PciConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PciConfigError";
  }
}

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

export class PciConfiguration {
  readonly #regs = new Uint32Array(PCI_CONFIG_REGS);
  readonly #wmask = new Uint32Array(PCI_CONFIG_REGS);
  readonly #bars: (BarSpec | undefined)[] = new Array(PCI_BAR_COUNT).fill(undefined);
  #lastCap = 0;
  #nextCap = PCI_CAP_START;

  constructor(header: PciHeader) {
    this.#regs[0] = (header.deviceId << 16) | header.vendorId;
    this.#regs[2] =
      ((header.classCode << 24) |
        (header.subclass << 16) |
        ((header.progIf ?? 0) << 8) |
        (header.revision ?? 0)) >>>
      0;
    this.#regs[0x2c / 4] = ((header.subsystemId ?? 0) << 16) | (header.subsystemVendorId ?? 0);
    this.#regs[0x3c / 4] = (header.interruptPin ?? 0) << 8;
    this.#regs[PCI_HEADER_TYPE >> 2] = ((header.headerType ?? 0) & 0x7f) << 16;
    this.#wmask[1] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
    this.#wmask[0x3c / 4] = 0xff; // Interrupt Line is scratch space for the OS (6.2.4).
  }

  get vendorId(): number {
    return this.#regs[0]! & 0xffff;
  }

  get deviceId(): number {
    return this.#regs[0]! >>> 16;
  }

  get command(): number {
    return this.#regs[1]! & 0xffff;
  }

  /** Interrupt Line (0x3C): the legacy IRQ the VMM routed INTx to, as firmware would program it. */
  setInterruptLine(irq: number): void {
    this.#regs[PCI_INTERRUPT_LINE / 4] = ((this.#regs[PCI_INTERRUPT_LINE / 4]! & ~0xff) | (irq & 0xff)) >>> 0;
  }

  readReg(reg: number): number {
    return reg >= 0 && reg < PCI_CONFIG_REGS ? this.#regs[reg]! : 0;
  }

  /** Writes `data` (1, 2 or 4 bytes) at byte `offset` inside dword `reg`, through the write mask. */
  writeReg(reg: number, offset: number, data: Uint8Array): void {
    if (reg < 0 || reg >= PCI_CONFIG_REGS || offset < 0 || offset + data.length > 4) return;
    let value = 0;
    let mask = 0;
    for (let i = 0; i < data.length; i++) {
      value |= data[i]! << (8 * (offset + i));
      mask |= 0xff << (8 * (offset + i));
    }
    const writable = this.#wmask[reg]! & mask;
    this.#regs[reg] = ((this.#regs[reg]! & ~writable) | (value & writable)) >>> 0;
  }

  /**
   * Sets dword `reg` and which of its bits the guest may change, for header fields the type 0 layout does not
   * have (a bridge's bus numbers and windows). Refuses a register outside the header or one holding a BAR.
   */
  defineRegister(reg: number, value: number, writable: number): void {
    if (reg < 0 || reg >= PCI_CAP_START / 4)
      throw new PciConfigError(`register 0x${(reg * 4).toString(16)} is not in the header`);
    const barReg = reg - PCI_BAR0 / 4;
    if (barReg >= 0 && barReg < PCI_BAR_COUNT && (this.#bars[barReg] || this.#isUpperHalf(barReg)))
      throw new PciConfigError(`register 0x${(reg * 4).toString(16)} holds BAR ${barReg}`);
    this.#regs[reg] = value >>> 0;
    this.#wmask[reg] = writable >>> 0;
  }

  /** Declares a BAR; refuses a bad size or an index already taken (a 64-bit BAR takes two). */
  addBar(bar: BarSpec): void {
    const { index, size, kind } = bar;
    const min = kind === "io" ? 4 : 16;
    if (!isPowerOfTwo(size) || size < min)
      throw new PciConfigError(`BAR ${index} size ${size} is not a power of two >= ${min}`);
    const last = kind === "mem64" ? index + 1 : index;
    if (index < 0 || last >= PCI_BAR_COUNT)
      throw new PciConfigError(`BAR ${index} does not fit in the header`);
    if (kind !== "mem64" && size > 2 ** 31)
      throw new PciConfigError(`BAR ${index} size ${size} needs a 64-bit BAR`);
    for (let i = index; i <= last; i++) {
      if (this.#bars[i] || this.#isUpperHalf(i)) throw new PciConfigError(`BAR ${i} is already in use`);
    }
    this.#bars[index] = bar;
    const reg = PCI_BAR0 / 4 + index;
    const flags =
      kind === "io"
        ? PCI_BAR_IO
        : (kind === "mem64" ? PCI_BAR_MEM_TYPE_64 : 0) | (bar.prefetchable ? PCI_BAR_MEM_PREFETCH : 0);
    this.#regs[reg] = flags;
    const lowMask = size >= 2 ** 32 ? 0 : ~(size - 1) >>> 0;
    this.#wmask[reg] = (lowMask & (kind === "io" ? 0xfffffffc : 0xfffffff0)) >>> 0;
    if (kind === "mem64") {
      this.#wmask[reg + 1] = size > 2 ** 32 ? ~(size / 2 ** 32 - 1) >>> 0 : 0xffffffff;
      this.#regs[reg + 1] = 0;
    }
  }

  #isUpperHalf(i: number): boolean {
    return i > 0 && this.#bars[i - 1]?.kind === "mem64";
  }

  get bars(): readonly BarSpec[] {
    return this.#bars.filter((b): b is BarSpec => b !== undefined);
  }

  bar(index: number): BarSpec | undefined {
    return this.#bars[index];
  }

  /** The address the BAR currently decodes (what the BIOS/VMM or the guest last programmed). */
  barAddress(index: number): number {
    const bar = this.#bars[index];
    if (!bar) return 0;
    const reg = PCI_BAR0 / 4 + index;
    const low = this.#regs[reg]! & (bar.kind === "io" ? 0xfffffffc : 0xfffffff0);
    const high = bar.kind === "mem64" ? this.#regs[reg + 1]! : 0;
    return high * 2 ** 32 + (low >>> 0);
  }

  /** Programs a BAR address (the VMM does this as firmware would); refuses a misaligned or out-of-width one. */
  setBarAddress(index: number, addr: number): void {
    const bar = this.#bars[index];
    if (!bar) throw new PciConfigError(`BAR ${index} is not declared`);
    if (addr % bar.size !== 0)
      throw new PciConfigError(`BAR ${index} address 0x${addr.toString(16)} is not aligned to its size`);
    if (bar.kind !== "mem64" && addr + bar.size > 2 ** 32)
      throw new PciConfigError(`BAR ${index} address 0x${addr.toString(16)} is above 4 GiB`);
    const reg = PCI_BAR0 / 4 + index;
    const flags = this.#regs[reg]! & (bar.kind === "io" ? 0x3 : 0xf);
    this.#regs[reg] = ((addr % 2 ** 32) | flags) >>> 0;
    if (bar.kind === "mem64") this.#regs[reg + 1] = Math.floor(addr / 2 ** 32) >>> 0;
  }

  /**
   * Appends a capability (its first byte is the ID; the next pointer is filled in here) and returns its offset.
   * `writable` gives per-byte write masks for the body; by default a capability is read-only.
   */
  addCapability(body: Uint8Array, writable?: Uint8Array): number {
    if (body.length < 2) throw new PciConfigError("a capability needs at least an ID and a next pointer");
    const at = this.#nextCap;
    const end = at + body.length;
    if (end > PCI_CONFIG_SPACE_SIZE)
      throw new PciConfigError(
        `capability ID 0x${body[0]!.toString(16)} does not fit in configuration space`,
      );
    const bytes = new Uint8Array(this.#regs.buffer);
    const wbytes = new Uint8Array(this.#wmask.buffer);
    bytes.set(body, at);
    bytes[at + 1] = 0;
    if (writable) wbytes.set(writable.subarray(0, body.length), at);
    if (this.#lastCap === 0) bytes[PCI_CAPABILITY_LIST] = at;
    else bytes[this.#lastCap + 1] = at;
    this.#lastCap = at;
    this.#nextCap = Math.ceil(end / 4) * 4;
    this.#regs[1]! |= PCI_STATUS_CAP_LIST << 16;
    return at;
  }

  /** Raw bytes of the configuration space (a copy), for debugging and tests. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#regs.buffer).slice();
  }
}
