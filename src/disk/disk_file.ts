// The interface every disk image format implements for the block device: byte-addressed reads and writes of the
// virtual disk, flush, and the thin-provisioning operations behind DISCARD and WRITE_ZEROES.

export interface DiskFile {
  /** The image path, for messages. */
  readonly path: string;
  readonly format: "raw" | "qcow2";
  readonly readOnly: boolean;
  /** Size of the virtual disk in bytes. */
  virtualSize(): number;
  /** Fills `buf` from virtual offset `offset`; bytes past the end of the image read as zero. */
  readAt(buf: Uint8Array, offset: number): void;
  /** Writes all of `buf` at virtual offset `offset`. */
  writeAt(buf: Uint8Array, offset: number): void;
  /** Optional: fills `bufs` in order from `offset` in one host call (a multi-segment request); as readAt. */
  readVectored?(bufs: readonly Uint8Array[], offset: number): void;
  /** Optional: writes `bufs` back to back from `offset` in one host call; as writeAt. */
  writeVectored?(bufs: readonly Uint8Array[], offset: number): void;
  /**
   * Optional: the smallest unit the host storage transfers (BLKSSZGET of a host block device); the guest's
   * logical block size is raised to it. Absent means 512.
   */
  logicalBlockSize?(): number;
  /** Makes completed writes durable (fdatasync). */
  flush(): void;
  /** Deallocates [offset, offset+length) where the format can; the range then reads as zero. */
  discard(offset: number, length: number): void;
  /** Makes [offset, offset+length) read as zero, deallocating when `unmap` allows. */
  writeZeroes(offset: number, length: number, unmap: boolean): void;
  /** Allocates the whole image up front (sparse=false). */
  allocateAll(): void;
  /** Changes the virtual size (the `disk resize` control command). */
  resize(size: number): void;
  close(): void;
}

/** A bad image or an I/O failure on it, always naming the file: "disk image PATH: PROBLEM". */
export class DiskError extends Error {
  constructor(
    readonly path: string,
    /** The problem alone, without the path (for callers that name the file their own way). */
    readonly problem: string,
  ) {
    super(`disk image ${path}: ${problem}`);
    this.name = "DiskError";
  }
}
