// A small io_uring for vectored reads and writes on registered files, so that a device keeps several requests in
// flight on the host (the guest's queue depth) from one thread. The ring is locked down before it is enabled, as
// io_uring's restrictions allow (IORING_SETUP_R_DISABLED, then IORING_REGISTER_RESTRICTIONS): only READV and
// WRITEV, only on the files registered at creation (IOSQE_FIXED_FILE required), and no io_uring_register after
// that. A confined device therefore needs io_uring_enter alone in its seccomp policy; what io_uring's kernel
// workers do is bounded by these restrictions, not by seccomp.
import {
  decodeParams,
  encodeRestrictions,
  IO_URING_CQE_SIZE,
  IO_URING_PARAMS,
  IO_URING_PARAMS_SIZE,
  IO_URING_SQE_SIZE,
  IORING_ENTER_GETEVENTS,
  IORING_FEAT_SINGLE_MMAP,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_OP_READV,
  IORING_OP_WRITEV,
  IORING_REGISTER_ENABLE_RINGS,
  IORING_REGISTER_FILES,
  IORING_REGISTER_RESTRICTIONS,
  IORING_SETUP_R_DISABLED,
  IOSQE_FIXED_FILE,
  ioUringEnter,
  ioUringRegister,
  ioUringSetup,
  mapRing,
  type RingMapping,
  SQE,
  unmapRing,
} from "../../ffi/io_uring.ts";
import { close } from "../../ffi/libc.ts";

export class IoRing {
  /** Most SQEs that can wait for submission at once. */
  readonly capacity: number;
  readonly #fd: number;
  readonly #rings: RingMapping;
  readonly #sqes: RingMapping;
  readonly #sqHead: number;
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #sqArray: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqes: number;
  /** u32 view of the SQ and CQ rings (one mapping), and of the SQE array. */
  readonly #ring32: Uint32Array;
  readonly #cqe32: Int32Array;
  readonly #sqe32: Uint32Array;
  readonly #sqe8: Uint8Array;
  /** SQEs written and not yet submitted, and requests submitted and not yet reaped. */
  #unsubmitted = 0;
  #inFlight = 0;
  #closed = false;

  /**
   * Creates a ring of `entries` SQEs whose requests may only read or write `files` (by index). Throws a SysError
   * where the host refuses io_uring (ENOSYS, EPERM with kernel.io_uring_disabled) or the restrictions (before
   * Linux 5.10), after releasing what it made.
   */
  constructor(entries: number, files: readonly number[]) {
    const params = new Uint8Array(IO_URING_PARAMS_SIZE);
    new DataView(params.buffer).setUint32(IO_URING_PARAMS.flags, IORING_SETUP_R_DISABLED, true);
    const fd = ioUringSetup(entries, params);
    const made: RingMapping[] = [];
    try {
      const layout = decodeParams(params);
      if ((layout.features & IORING_FEAT_SINGLE_MMAP) === 0)
        throw new Error("io_uring without IORING_FEAT_SINGLE_MMAP (Linux before 5.4)");
      const ringBytes = Math.max(
        layout.sq.array + layout.sqEntries * 4,
        layout.cq.cqes + layout.cqEntries * IO_URING_CQE_SIZE,
      );
      const rings = mapRing(fd, ringBytes, IORING_OFF_SQ_RING);
      made.push(rings);
      const sqes = mapRing(fd, layout.sqEntries * IO_URING_SQE_SIZE, IORING_OFF_SQES);
      made.push(sqes);
      ioUringRegister(fd, IORING_REGISTER_FILES, Int32Array.from(files), files.length);
      const restrictions = encodeRestrictions([IORING_OP_READV, IORING_OP_WRITEV], IOSQE_FIXED_FILE);
      ioUringRegister(fd, IORING_REGISTER_RESTRICTIONS, restrictions, restrictions.length / 16);
      ioUringRegister(fd, IORING_REGISTER_ENABLE_RINGS, 0, 0);
      this.#fd = fd;
      this.#rings = rings;
      this.#sqes = sqes;
      this.capacity = layout.sqEntries;
      this.#sqHead = layout.sq.head >> 2;
      this.#sqTail = layout.sq.tail >> 2;
      this.#sqMask = layout.sq.ringMask >> 2;
      this.#sqArray = layout.sq.array >> 2;
      this.#cqHead = layout.cq.head >> 2;
      this.#cqTail = layout.cq.tail >> 2;
      this.#cqMask = layout.cq.ringMask >> 2;
      this.#cqes = layout.cq.cqes >> 2;
      this.#ring32 = new Uint32Array(rings.bytes.buffer, rings.bytes.byteOffset, ringBytes >> 2);
      this.#cqe32 = new Int32Array(rings.bytes.buffer, rings.bytes.byteOffset, ringBytes >> 2);
      this.#sqe32 = new Uint32Array(sqes.bytes.buffer, sqes.bytes.byteOffset, sqes.length >> 2);
      this.#sqe8 = sqes.bytes;
    } catch (e) {
      for (const m of made) unmapRing(m);
      close(fd);
      throw e;
    }
  }

  /** The ring's descriptor (for a test that tries io_uring_register on it). */
  get fd(): number {
    return this.#fd;
  }

  /** Requests submitted (or waiting to be) whose completion has not been reaped. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Queues a READV or WRITEV of `iovCount` iovecs at `iovAddr` (host memory that stays valid until the request is
   * reaped) on registered file `fileIndex` at `offset`; false when the ring has no free entry.
   */
  prepare(
    write: boolean,
    fileIndex: number,
    iovAddr: number,
    iovCount: number,
    offset: number,
    tag: number,
  ): boolean {
    if (this.#inFlight >= this.capacity) return false;
    const r = this.#ring32;
    const tail = r[this.#sqTail]!;
    const index = tail & r[this.#sqMask]!;
    const w = index * (IO_URING_SQE_SIZE >> 2);
    this.#sqe8.fill(0, index * IO_URING_SQE_SIZE, (index + 1) * IO_URING_SQE_SIZE);
    const s = this.#sqe8;
    s[index * IO_URING_SQE_SIZE + SQE.opcode] = write ? IORING_OP_WRITEV : IORING_OP_READV;
    s[index * IO_URING_SQE_SIZE + SQE.flags] = IOSQE_FIXED_FILE;
    const q = this.#sqe32;
    q[w + (SQE.fd >> 2)] = fileIndex;
    q[w + (SQE.off >> 2)] = offset % 2 ** 32;
    q[w + (SQE.off >> 2) + 1] = Math.floor(offset / 2 ** 32);
    q[w + (SQE.addr >> 2)] = iovAddr % 2 ** 32;
    q[w + (SQE.addr >> 2) + 1] = Math.floor(iovAddr / 2 ** 32);
    q[w + (SQE.len >> 2)] = iovCount;
    q[w + (SQE.userData >> 2)] = tag;
    r[this.#sqArray + index] = index;
    // The kernel reads the tail after the entry it covers: a sequentially consistent store orders them.
    Atomics.store(r, this.#sqTail, (tail + 1) >>> 0);
    this.#unsubmitted++;
    this.#inFlight++;
    return true;
  }

  /** Submits what prepare queued and waits until every request in flight has completed. */
  waitAll(): void {
    while (this.#unsubmitted > 0 || this.#completed() < this.#inFlight) {
      const submitted = ioUringEnter(this.#fd, this.#unsubmitted, this.#inFlight, IORING_ENTER_GETEVENTS);
      this.#unsubmitted -= Math.min(submitted, this.#unsubmitted);
    }
  }

  /** Calls `each(tag, result)` for every completion there is (result: bytes moved, or -errno); returns the count. */
  reap(each: (tag: number, result: number) => void): number {
    const r = this.#ring32;
    let head = r[this.#cqHead]!;
    const tail = Atomics.load(r, this.#cqTail);
    let n = 0;
    while (head !== tail) {
      const at = this.#cqes + (head & r[this.#cqMask]!) * (IO_URING_CQE_SIZE >> 2);
      const tag = r[at]!;
      const result = this.#cqe32[at + 2]!;
      head = (head + 1) >>> 0;
      // Released before the callback: it may prepare new requests into the entries this frees.
      Atomics.store(r, this.#cqHead, head);
      this.#inFlight--;
      n++;
      each(tag, result);
    }
    return n;
  }

  #completed(): number {
    const r = this.#ring32;
    return (Atomics.load(r, this.#cqTail) - r[this.#cqHead]!) >>> 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unmapRing(this.#sqes);
    unmapRing(this.#rings);
    close(this.#fd);
  }
}
