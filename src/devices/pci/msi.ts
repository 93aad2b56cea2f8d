// MSI (PCI Local Bus 3.0 section 6.8.1): the capability a function without an MSI-X table uses to send one
// message, here the 64-bit layout without per-vector masking and with one vector (Multiple Message Capable = 0):
//   +0 ID 0x05, +1 next, +2 Message Control, +4 Message Address, +8 Message Upper Address, +0xC Message Data.
// The VMM routes the vector like an MSI-X one (gsi_routes.ts): `onChange` reports address, data and whether the
// vector is off (MSI disabled); `trigger` writes the vector's irqfd while MSI is enabled.
import type { IrqEvent } from "../irq.ts";
import type { MsixVectorState } from "./msix.ts";

/** PCI capability ID of MSI (PCI Code and ID Assignment spec, "Capability IDs"). */
export const PCI_CAP_ID_MSI = 0x05;
/** Message Control bits (6.8.1.3): MSI Enable, Multiple Message Enable (6:4), 64-bit Address Capable. */
export const MSI_ENABLE = 0x0001;
export const MSI_MME_MASK = 0x0070;
export const MSI_64BIT = 0x0080;
/** Register offsets inside the capability (6.8.1, figure 6-9, the 64-bit layout). */
export const MSI_CONTROL = 0x02;
export const MSI_ADDRESS_LO = 0x04;
export const MSI_ADDRESS_HI = 0x08;
export const MSI_DATA = 0x0c;
/** Length of the 64-bit capability without masking, rounded to whole dwords. */
export const MSI_CAP_LENGTH = 0x10;

export class MsiConfig {
  #control = 0;
  #addressLo = 0;
  #addressHi = 0;
  #data = 0;

  constructor(
    public irq: IrqEvent | undefined = undefined,
    public onChange: (state: MsixVectorState) => void = () => {},
  ) {}

  get enabled(): boolean {
    return (this.#control & MSI_ENABLE) !== 0;
  }

  get state(): MsixVectorState {
    return {
      addressLo: this.#addressLo,
      addressHi: this.#addressHi,
      data: this.#data,
      masked: !this.enabled,
    };
  }

  /** The capability body for PciConfiguration.addCapability (read through `readDword` afterwards). */
  capability(): Uint8Array {
    const cap = new Uint8Array(MSI_CAP_LENGTH);
    cap[0] = PCI_CAP_ID_MSI;
    return cap;
  }

  /** Dword `index` (0..3) of the capability as the guest reads it; dword 0's low half (ID, next) is `idNext`. */
  readDword(index: number, idNext: number): number {
    switch (index) {
      case 0:
        return ((idNext & 0xffff) | ((this.#control | MSI_64BIT) << 16)) >>> 0;
      case 1:
        return this.#addressLo;
      case 2:
        return this.#addressHi;
      case 3:
        return this.#data;
      default:
        return 0;
    }
  }

  /** A guest write of `data` at byte `offset` of dword `index`: only the writable fields change. */
  writeDword(index: number, offset: number, data: Uint8Array): void {
    if (index < 0 || index > 3 || offset < 0 || offset + data.length > 4) return;
    const merge = (old: number) => {
      let value = old;
      for (let i = 0; i < data.length; i++) {
        const shift = 8 * (offset + i);
        value = (value & ~(0xff << shift)) | (data[i]! << shift);
      }
      return value >>> 0;
    };
    const before = this.state;
    switch (index) {
      case 0:
        // One vector: Multiple Message Enable may only hold 0 (one message); MSI Enable is the one writable bit.
        this.#control = (merge(this.#control << 16) >>> 16) & MSI_ENABLE;
        break;
      case 1:
        this.#addressLo = (merge(this.#addressLo) & 0xfffffffc) >>> 0;
        break;
      case 2:
        this.#addressHi = merge(this.#addressHi);
        break;
      case 3:
        this.#data = merge(this.#data) & 0xffff;
        break;
    }
    const now = this.state;
    if (
      now.addressLo !== before.addressLo ||
      now.addressHi !== before.addressHi ||
      now.data !== before.data ||
      now.masked !== before.masked
    )
      this.onChange(now);
  }

  /** Sends the message; returns false (nothing sent) while MSI is disabled. */
  trigger(): boolean {
    if (!this.enabled) return false;
    this.irq?.trigger();
    return true;
  }
}
