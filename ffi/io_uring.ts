// io_uring(7) through bun:ffi: io_uring_setup/enter/register with syscall(2) and the rings mmapped. Numbers and
// layouts from include/uapi/linux/io_uring.h (x86-64; pinned by test/unit/ffi/io_uring.test.ts as gcc reports them)
// and arch/x86/entry/syscalls/syscall_64.tbl.
import { MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, SysError, syscall, viewOf } from "./libc.ts";

export const SYS_IO_URING_SETUP = 425;
export const SYS_IO_URING_ENTER = 426;
export const SYS_IO_URING_REGISTER = 427;

/** mmap offsets of the submission ring, the completion ring and the SQE array. */
export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_CQ_RING = 0x8000000;
export const IORING_OFF_SQES = 0x10000000;

/** io_uring_params.flags: the ring starts disabled until IORING_REGISTER_ENABLE_RINGS (restrictions first). */
export const IORING_SETUP_R_DISABLED = 1 << 6;
/** io_uring_params.features: the SQ and CQ rings share one mapping (5.4+). */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
/** io_uring_enter flags: wait for min_complete completions. */
export const IORING_ENTER_GETEVENTS = 1 << 0;

/** enum io_uring_op. */
export const IORING_OP_READV = 1;
export const IORING_OP_WRITEV = 2;
/** io_uring_sqe.flags: fd is an index into the registered files. */
export const IOSQE_FIXED_FILE = 1 << 0;

/** io_uring_register opcodes. */
export const IORING_REGISTER_FILES = 2;
export const IORING_REGISTER_RESTRICTIONS = 11;
export const IORING_REGISTER_ENABLE_RINGS = 12;
/** enum io_uring_register_restriction_op. */
export const IORING_RESTRICTION_SQE_OP = 1;
export const IORING_RESTRICTION_SQE_FLAGS_ALLOWED = 2;
export const IORING_RESTRICTION_SQE_FLAGS_REQUIRED = 3;

/** struct io_uring_params: 120 bytes; io_sqring_offsets at 40, io_cqring_offsets at 80 (40 bytes each). */
export const IO_URING_PARAMS_SIZE = 120;
export const IO_URING_PARAMS = {
  sqEntries: 0,
  cqEntries: 4,
  flags: 8,
  features: 20,
  sqOff: 40,
  cqOff: 80,
} as const;
/** struct io_sqring_offsets fields (u32), relative to sqOff. */
export const SQRING_OFFSETS = {
  head: 0,
  tail: 4,
  ringMask: 8,
  ringEntries: 12,
  flags: 16,
  dropped: 20,
  array: 24,
} as const;
/** struct io_cqring_offsets fields (u32), relative to cqOff. */
export const CQRING_OFFSETS = {
  head: 0,
  tail: 4,
  ringMask: 8,
  ringEntries: 12,
  overflow: 16,
  cqes: 20,
} as const;
/** struct io_uring_sqe: 64 bytes. */
export const IO_URING_SQE_SIZE = 64;
export const SQE = {
  opcode: 0,
  flags: 1,
  ioprio: 2,
  fd: 4,
  off: 8,
  addr: 16,
  len: 24,
  rwFlags: 28,
  userData: 32,
} as const;
/** struct io_uring_cqe: 16 bytes (without IORING_SETUP_CQE32). */
export const IO_URING_CQE_SIZE = 16;
export const CQE = { userData: 0, res: 8, flags: 12 } as const;
/** struct io_uring_restriction: u16 opcode, u8 register_op/sqe_op/sqe_flags, u8 resv, u32 resv2[3]. */
export const IO_URING_RESTRICTION_SIZE = 16;

/** What io_uring_setup said about the rings. */
export interface RingLayout {
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly features: number;
  readonly sq: Record<keyof typeof SQRING_OFFSETS, number>;
  readonly cq: Record<keyof typeof CQRING_OFFSETS, number>;
}

/** Decodes a struct io_uring_params that io_uring_setup filled in. */
export function decodeParams(params: Uint8Array): RingLayout {
  const v = new DataView(params.buffer, params.byteOffset, params.byteLength);
  const u32 = (off: number) => v.getUint32(off, true);
  const fields = <T extends Record<string, number>>(base: number, offsets: T) =>
    Object.fromEntries(Object.entries(offsets).map(([k, off]) => [k, u32(base + off)])) as Record<
      keyof T,
      number
    >;
  return {
    sqEntries: u32(IO_URING_PARAMS.sqEntries),
    cqEntries: u32(IO_URING_PARAMS.cqEntries),
    features: u32(IO_URING_PARAMS.features),
    sq: fields(IO_URING_PARAMS.sqOff, SQRING_OFFSETS),
    cq: fields(IO_URING_PARAMS.cqOff, CQRING_OFFSETS),
  };
}

/** struct io_uring_restriction entries: one SQE opcode each, then the SQE flags allowed and required. */
export function encodeRestrictions(ops: readonly number[], requiredFlags: number): Uint8Array {
  const entries: [number, number][] = [
    ...ops.map((op): [number, number] => [IORING_RESTRICTION_SQE_OP, op]),
    [IORING_RESTRICTION_SQE_FLAGS_ALLOWED, requiredFlags],
    [IORING_RESTRICTION_SQE_FLAGS_REQUIRED, requiredFlags],
  ];
  const bytes = new Uint8Array(entries.length * IO_URING_RESTRICTION_SIZE);
  const v = new DataView(bytes.buffer);
  entries.forEach(([opcode, arg], i) => {
    v.setUint16(i * IO_URING_RESTRICTION_SIZE, opcode, true);
    v.setUint8(i * IO_URING_RESTRICTION_SIZE + 2, arg);
  });
  return bytes;
}

/** io_uring_setup(2); returns the ring fd and fills `params`. */
export function ioUringSetup(entries: number, params: Uint8Array): number {
  return syscall(SYS_IO_URING_SETUP, "io_uring_setup", entries, params);
}

/** io_uring_register(2) with an argument array of `count` entries. */
export function ioUringRegister(
  fd: number,
  opcode: number,
  arg: NodeJS.TypedArray | number,
  count: number,
): void {
  syscall(SYS_IO_URING_REGISTER, `io_uring_register ${opcode}`, fd, opcode, arg, count);
}

/** io_uring_enter(2), retried on EINTR; returns the number of SQEs consumed. */
export function ioUringEnter(fd: number, toSubmit: number, minComplete: number, flags: number): number {
  for (;;) {
    try {
      return syscall(SYS_IO_URING_ENTER, "io_uring_enter", fd, toSubmit, minComplete, flags, 0, 0);
    } catch (e) {
      if (!(e instanceof SysError) || e.code !== "EINTR") throw e;
    }
  }
}

/** One shared mapping of a ring fd: its address and a byte view over it. */
export interface RingMapping {
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** mmap(2) of one part of the ring (MAP_SHARED | MAP_POPULATE, read-write). */
export function mapRing(fd: number, length: number, offset: number): RingMapping {
  const MAP_POPULATE = 0x8000; // include/uapi/asm-generic/mman.h
  const addr = mmap(
    length,
    PROT_READ | PROT_WRITE,
    MAP_SHARED | MAP_POPULATE,
    fd,
    offset,
    `io_uring ring ${fd}`,
  );
  return { addr, bytes: viewOf(addr, length), length };
}

export function unmapRing(m: RingMapping): void {
  munmap(m.addr, m.length, "io_uring ring");
}
