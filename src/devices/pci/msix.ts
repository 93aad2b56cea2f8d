// MSI-X (PCI Local Bus 3.0 section 6.8.2 / PCIe 4.0 section 7.7.2): the capability's Message Control word, the
// vector table (16 bytes an entry: Message Address low/high, Message Data, Vector Control) and the Pending Bit
// Array, both living in a BAR. The VMM turns each vector into a KVM GSI route + irqfd; MsixConfig tells it, through
// `onVectorChange`, whenever a vector's address, data or effective mask changes, so it can update the route.
import type { IrqEvent } from "../irq.ts";

/** PCI capability ID of MSI-X (PCI Code and ID Assignment spec, "Capability IDs"). */
export const PCI_CAP_ID_MSIX = 0x11;
/** Message Control bits (6.8.2.3). */
export const MSIX_ENABLE = 0x8000;
export const MSIX_FUNCTION_MASK = 0x4000;
/** Bytes per table entry and the Vector Control mask bit (6.8.2.6, 6.8.2.9). */
export const MSIX_TABLE_ENTRY_SIZE = 16;
export const MSIX_VECTOR_CTL_MASKED = 1;
/** Fields of a table entry (6.8.2, figure 6-11): Message Address, Upper Address, Data, Vector Control. */
export const MSIX_ENTRY_ADDRESS_LO = 0;
export const MSIX_ENTRY_ADDRESS_HI = 4;
export const MSIX_ENTRY_DATA = 8;
export const MSIX_ENTRY_VECTOR_CONTROL = 12;
/** Length of the capability structure: id, next, control, table offset/BIR, PBA offset/BIR. */
export const MSIX_CAP_LENGTH = 12;
/** Largest table: Table Size is an 11-bit N-1 field. */
export const MSIX_MAX_VECTORS = 2048;

export interface MsixVectorState {
  readonly addressLo: number;
  readonly addressHi: number;
  readonly data: number;
  /** Masked by its own Vector Control bit, the Function Mask, or MSI-X being disabled. */
  readonly masked: boolean;
}

export type MsixVectorListener = (vector: number, state: MsixVectorState) => void;

export class MsixConfig {
  readonly #table: Uint8Array;
  readonly #view: DataView;
  readonly #pending: Uint8Array;
  #control = 0;
  readonly #reported: (MsixVectorState | undefined)[];

  constructor(
    readonly tableSize: number,
    /** irqfd of each vector, installed by the VMM; undefined means "not wired" (the interrupt is dropped). */
    public vectorIrq: (vector: number) => IrqEvent | undefined = () => undefined,
    public onVectorChange: MsixVectorListener = () => {},
  ) {
    if (tableSize < 1 || tableSize > MSIX_MAX_VECTORS)
      throw new Error(`MSI-X table size ${tableSize} is not between 1 and ${MSIX_MAX_VECTORS}`);
    this.#table = new Uint8Array(tableSize * MSIX_TABLE_ENTRY_SIZE);
    this.#view = new DataView(this.#table.buffer);
    // Every vector starts masked (6.8.2.9: "Mask bit ... default value 1").
    for (let v = 0; v < tableSize; v++)
      this.#view.setUint32(
        v * MSIX_TABLE_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CONTROL,
        MSIX_VECTOR_CTL_MASKED,
        true,
      );
    this.#pending = new Uint8Array(Math.ceil(tableSize / 64) * 8);
    this.#reported = new Array(tableSize).fill(undefined);
  }

  get tableBytes(): number {
    return this.#table.length;
  }

  get pbaBytes(): number {
    return this.#pending.length;
  }

  get enabled(): boolean {
    return (this.#control & MSIX_ENABLE) !== 0;
  }

  get functionMasked(): boolean {
    return (this.#control & MSIX_FUNCTION_MASK) !== 0;
  }

  /** Message Control as the guest reads it: enable, function mask, Table Size - 1. */
  get messageControl(): number {
    return this.#control | (this.tableSize - 1);
  }

  /** Only the Enable and Function Mask bits are writable. */
  set messageControl(value: number) {
    this.#control = value & (MSIX_ENABLE | MSIX_FUNCTION_MASK);
    for (let v = 0; v < this.tableSize; v++) this.#refresh(v);
  }

  /** The capability body: id, next (0, linked by the config space), control, table and PBA offset/BIR. */
  capability(tableBar: number, tableOffset: number, pbaBar: number, pbaOffset: number): Uint8Array {
    const cap = new Uint8Array(MSIX_CAP_LENGTH);
    const v = new DataView(cap.buffer);
    cap[0] = PCI_CAP_ID_MSIX;
    v.setUint16(2, this.messageControl, true);
    v.setUint32(4, (tableOffset & ~7) | (tableBar & 7), true);
    v.setUint32(8, (pbaOffset & ~7) | (pbaBar & 7), true);
    return cap;
  }

  vector(v: number): MsixVectorState {
    const at = v * MSIX_TABLE_ENTRY_SIZE;
    return {
      addressLo: this.#view.getUint32(at + MSIX_ENTRY_ADDRESS_LO, true),
      addressHi: this.#view.getUint32(at + MSIX_ENTRY_ADDRESS_HI, true),
      data: this.#view.getUint32(at + MSIX_ENTRY_DATA, true),
      masked:
        !this.enabled ||
        this.functionMasked ||
        (this.#view.getUint32(at + MSIX_ENTRY_VECTOR_CONTROL, true) & MSIX_VECTOR_CTL_MASKED) !== 0,
    };
  }

  isPending(v: number): boolean {
    return v >= 0 && v < this.tableSize && (this.#pending[v >> 3]! & (1 << (v & 7))) !== 0;
  }

  readTable(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.#table[offset + i] ?? 0;
  }

  writeTable(offset: number, data: Uint8Array): void {
    if (offset < 0 || offset + data.length > this.#table.length) return;
    this.#table.set(data, offset);
    const first = Math.floor(offset / MSIX_TABLE_ENTRY_SIZE);
    const last = Math.floor((offset + data.length - 1) / MSIX_TABLE_ENTRY_SIZE);
    for (let v = first; v <= last; v++) this.#refresh(v);
  }

  readPba(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.#pending[offset + i] ?? 0;
  }

  /** Sends vector `v` now, or sets its pending bit while it is masked (6.8.2.10). Returns whether it was sent. */
  trigger(v: number): boolean {
    if (v < 0 || v >= this.tableSize || !this.enabled) return false;
    if (this.vector(v).masked) {
      this.#pending[v >> 3]! |= 1 << (v & 7);
      return false;
    }
    this.vectorIrq(v)?.trigger();
    return true;
  }

  #refresh(v: number): void {
    const now = this.vector(v);
    const before = this.#reported[v];
    if (
      !before ||
      before.addressLo !== now.addressLo ||
      before.addressHi !== now.addressHi ||
      before.data !== now.data ||
      before.masked !== now.masked
    ) {
      this.#reported[v] = now;
      this.onVectorChange(v, now);
    }
    if (!now.masked && this.isPending(v)) {
      this.#pending[v >> 3]! &= ~(1 << (v & 7));
      this.vectorIrq(v)?.trigger();
    }
  }
}
