// Pins the io_uring numbers and layouts of ffi/io_uring.ts to include/uapi/linux/io_uring.h, as gcc reports them
// for x86-64 (sizeof/offsetof printed by a C program against /usr/include/linux/io_uring.h).
import { describe, expect, test } from "bun:test";
import {
  CQE,
  CQRING_OFFSETS,
  decodeParams,
  encodeRestrictions,
  IO_URING_CQE_SIZE,
  IO_URING_PARAMS,
  IO_URING_PARAMS_SIZE,
  IO_URING_RESTRICTION_SIZE,
  IO_URING_SQE_SIZE,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQES,
  IORING_OP_READV,
  IORING_OP_WRITEV,
  IORING_REGISTER_ENABLE_RINGS,
  IORING_REGISTER_FILES,
  IORING_REGISTER_RESTRICTIONS,
  IORING_SETUP_R_DISABLED,
  SQE,
  SQRING_OFFSETS,
} from "../../../ffi/io_uring.ts";

describe("io_uring layouts", () => {
  test("struct io_uring_params is 120 bytes with flags at 8, features at 20, sq_off at 40 and cq_off at 80", () => {
    expect(IO_URING_PARAMS_SIZE).toBe(120);
    expect(IO_URING_PARAMS).toEqual({
      sqEntries: 0,
      cqEntries: 4,
      flags: 8,
      features: 20,
      sqOff: 40,
      cqOff: 80,
    });
  });

  test("struct io_sqring_offsets and io_cqring_offsets place their u32 fields as the header does", () => {
    expect(SQRING_OFFSETS).toEqual({
      head: 0,
      tail: 4,
      ringMask: 8,
      ringEntries: 12,
      flags: 16,
      dropped: 20,
      array: 24,
    });
    expect(CQRING_OFFSETS).toEqual({
      head: 0,
      tail: 4,
      ringMask: 8,
      ringEntries: 12,
      overflow: 16,
      cqes: 20,
    });
  });

  test("struct io_uring_sqe is 64 bytes and struct io_uring_cqe 16, fields at the header's offsets", () => {
    expect(IO_URING_SQE_SIZE).toBe(64);
    expect(SQE).toEqual({
      opcode: 0,
      flags: 1,
      ioprio: 2,
      fd: 4,
      off: 8,
      addr: 16,
      len: 24,
      rwFlags: 28,
      userData: 32,
    });
    expect(IO_URING_CQE_SIZE).toBe(16);
    expect(CQE).toEqual({ userData: 0, res: 8, flags: 12 });
    expect(IO_URING_RESTRICTION_SIZE).toBe(16);
  });

  test("opcodes, register operations and mmap offsets have the header's values", () => {
    expect([IORING_OP_READV, IORING_OP_WRITEV]).toEqual([1, 2]);
    expect([IORING_REGISTER_FILES, IORING_REGISTER_RESTRICTIONS, IORING_REGISTER_ENABLE_RINGS]).toEqual([
      2, 11, 12,
    ]);
    expect(IORING_SETUP_R_DISABLED).toBe(64);
    expect([IORING_OFF_CQ_RING, IORING_OFF_SQES]).toEqual([0x8000000, 0x10000000]);
  });
});

describe("io_uring encoding", () => {
  test("decodeParams reads the entry counts and both offset blocks little-endian", () => {
    const params = new Uint8Array(IO_URING_PARAMS_SIZE);
    const v = new DataView(params.buffer);
    v.setUint32(0, 64, true);
    v.setUint32(4, 128, true);
    v.setUint32(20, 1, true);
    v.setUint32(40 + 24, 0x240, true);
    v.setUint32(80 + 20, 0x140, true);

    const layout = decodeParams(params);

    expect([layout.sqEntries, layout.cqEntries, layout.features]).toEqual([64, 128, 1]);
    expect(layout.sq.array).toBe(0x240);
    expect(layout.cq.cqes).toBe(0x140);
  });

  test("encodeRestrictions writes one SQE_OP entry per opcode, then the allowed and required flags", () => {
    const bytes = encodeRestrictions([1, 2], 1);

    const v = new DataView(bytes.buffer);
    const entries = [0, 1, 2, 3].map((i) => [v.getUint16(i * 16, true), v.getUint8(i * 16 + 2)]);
    expect(bytes.length).toBe(64);
    expect(entries).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
      [3, 1],
    ]);
  });
});
