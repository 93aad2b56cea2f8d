// Little-endian field access over a byte buffer, and the 8-bit checksum that firmware tables share
// (MP Spec 1.4 §4.1, ACPI 6.4 §5.2.5.3 and §5.2.6: all bytes of the structure sum to zero modulo 256).

export class LeBytes {
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  static zeroed(length: number): LeBytes {
    return new LeBytes(new Uint8Array(length));
  }

  get length(): number {
    return this.bytes.length;
  }

  u8(offset: number): number {
    return this.#view.getUint8(offset);
  }
  u16(offset: number): number {
    return this.#view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.#view.getUint32(offset, true);
  }
  u64(offset: number): bigint {
    return this.#view.getBigUint64(offset, true);
  }
  ascii(offset: number, length: number): string {
    return String.fromCharCode(...this.bytes.subarray(offset, offset + length));
  }

  setU8(offset: number, value: number): this {
    this.#view.setUint8(offset, value);
    return this;
  }
  setU16(offset: number, value: number): this {
    this.#view.setUint16(offset, value, true);
    return this;
  }
  setU32(offset: number, value: number): this {
    this.#view.setUint32(offset, value, true);
    return this;
  }
  setU64(offset: number, value: bigint | number): this {
    this.#view.setBigUint64(offset, BigInt(value), true);
    return this;
  }
  /** Writes ASCII text, padded with `pad` up to `length` bytes (text longer than `length` is a bug). */
  setAscii(offset: number, text: string, length = text.length, pad = 0): this {
    if (text.length > length) throw new RangeError(`"${text}" does not fit in ${length} bytes`);
    for (let i = 0; i < length; i++)
      this.bytes[offset + i] = i < text.length ? text.charCodeAt(i) & 0xff : pad;
    return this;
  }
}

/** Sum of the bytes modulo 256. */
export function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

/** Sets bytes[checksumOffset] so that the bytes of `bytes` sum to zero modulo 256. */
export function fixChecksum(bytes: Uint8Array, checksumOffset: number): void {
  bytes[checksumOffset] = 0;
  bytes[checksumOffset] = (0x100 - byteSum(bytes)) & 0xff;
}

/** Rounds `value` up to a multiple of `align` (a power of two below 2^32, or any positive integer). */
export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** Rounds `value` down to a multiple of `align`. */
export function alignDown(value: number, align: number): number {
  return Math.floor(value / align) * align;
}
