// A DiskFile over memory, so the block-request fuzzer spends its time in request handling, not in the kernel.
import { DiskError, type DiskFile } from "../src/disk/disk_file.ts";

export class MemoryDisk implements DiskFile {
  readonly format = "raw";
  readonly path = "memory";
  #bytes: Uint8Array;

  constructor(
    size: number,
    readonly readOnly = false,
  ) {
    this.#bytes = new Uint8Array(size);
  }

  virtualSize(): number {
    return this.#bytes.length;
  }

  #range(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.#bytes.length)
      throw new DiskError(
        this.path,
        `access 0x${offset.toString(16)}+0x${length.toString(16)} is past the end`,
      );
  }

  readAt(buf: Uint8Array, offset: number): void {
    buf.fill(0);
    const n = Math.max(0, Math.min(buf.length, this.#bytes.length - offset));
    if (n > 0) buf.set(this.#bytes.subarray(offset, offset + n));
  }

  writeAt(buf: Uint8Array, offset: number): void {
    if (this.readOnly) throw new DiskError(this.path, "is read-only");
    this.#range(offset, buf.length);
    this.#bytes.set(buf, offset);
  }

  flush(): void {}

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length, true);
  }

  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    this.#range(offset, length);
    this.#bytes.fill(0, offset, offset + length);
  }

  allocateAll(): void {}

  resize(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, Math.min(size, this.#bytes.length)));
    this.#bytes = next;
  }

  close(): void {}
}
