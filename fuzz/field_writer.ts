// Builds a message field by field into a fixed buffer: little-endian integers and raw bytes at a moving offset.
// A field that would pass the buffer's end is not written but still counted, so a message may claim more bytes
// than the buffer holds (the fuzz targets send such messages on purpose).
export class FieldWriter {
  readonly #view: DataView;

  constructor(
    readonly buf: Uint8Array,
    /** Where the next field goes. */
    public at = 0,
  ) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #fits(n: number): boolean {
    return this.at + n <= this.buf.length;
  }

  u8(v: number): void {
    if (this.#fits(1)) this.buf[this.at] = v;
    this.at += 1;
  }

  u16(v: number): void {
    if (this.#fits(2)) this.#view.setUint16(this.at, v, true);
    this.at += 2;
  }

  u32(v: number): void {
    if (this.#fits(4)) this.#view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
  }

  u64(v: bigint | number): void {
    if (this.#fits(8)) this.#view.setBigUint64(this.at, BigInt.asUintN(64, BigInt(v)), true);
    this.at += 8;
  }

  bytes(b: Uint8Array): void {
    if (this.#fits(b.length)) this.buf.set(b, this.at);
    this.at += b.length;
  }
}
