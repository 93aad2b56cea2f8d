// 9P2000.L wire constants against Linux's include/net/9p/9p.h and include/uapi/linux/virtio_9p.h, and the bounds
// of the message reader and reply writer.
import { describe, expect, test } from "bun:test";
import {
  ATTR,
  GETATTR_BASIC,
  HEADER_SIZE,
  MAXWELEM,
  MSG,
  P9Reader,
  P9Writer,
  QID_SIZE,
  QTDIR,
  QTSYMLINK,
  ReplyTooLong,
  RREAD_HEADER,
  Truncated,
  TWRITE_HEADER,
} from "../../../../src/devices/virtio/p9/protocol.ts";

describe("constants", () => {
  test("message numbers are enum p9_msg_t's", () => {
    expect([
      MSG.TLERROR,
      MSG.TSTATFS,
      MSG.TLOPEN,
      MSG.TLCREATE,
      MSG.TSYMLINK,
      MSG.TMKNOD,
      MSG.TRENAME,
      MSG.TREADLINK,
      MSG.TGETATTR,
      MSG.TSETATTR,
      MSG.TXATTRWALK,
      MSG.TXATTRCREATE,
      MSG.TREADDIR,
      MSG.TFSYNC,
      MSG.TLOCK,
      MSG.TGETLOCK,
      MSG.TLINK,
      MSG.TMKDIR,
      MSG.TRENAMEAT,
      MSG.TUNLINKAT,
    ]).toEqual([6, 8, 12, 14, 16, 18, 20, 22, 24, 26, 30, 32, 40, 50, 52, 54, 70, 72, 74, 76]);
    expect([MSG.TVERSION, MSG.TAUTH, MSG.TATTACH, MSG.TFLUSH, MSG.TWALK, MSG.TREAD, MSG.TWRITE]).toEqual([
      100, 102, 104, 108, 110, 116, 118,
    ]);
    expect([MSG.TCLUNK, MSG.TREMOVE]).toEqual([120, 122]);
  });

  test("sizes: header 7, qid 13, Rread header 11, Twrite header 23, 16 names a walk", () => {
    expect([HEADER_SIZE, QID_SIZE, RREAD_HEADER, TWRITE_HEADER, MAXWELEM]).toEqual([7, 13, 11, 23, 16]);
  });

  test("qid types, P9_GETATTR_BASIC and the P9_ATTR bits", () => {
    expect([QTDIR, QTSYMLINK, GETATTR_BASIC]).toEqual([0x80, 0x02, 0x7ff]);
    expect(Object.values(ATTR)).toEqual([0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100]);
  });
});

describe("P9Reader", () => {
  const bytes = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0x34, 0x12, 3, 0, 0x61, 0x62, 0x63, 0xff]);

  test("reads little-endian integers and length-prefixed strings after the header", () => {
    const r = new P9Reader(bytes);

    expect([r.u16(), new TextDecoder().decode(r.str()), r.u8()]).toEqual([0x1234, "abc", 0xff]);
  });

  test("a field past the end of the message throws Truncated", () => {
    const r = new P9Reader(bytes, 13);

    expect(() => r.u32()).toThrow(Truncated);
  });

  test("a string whose length runs past the message throws Truncated", () => {
    const r = new P9Reader(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x61]));

    expect(() => r.str()).toThrow(Truncated);
  });

  test("a u64 above 2^53 - 1 reads as -1", () => {
    const r = new P9Reader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 0);

    expect(r.u64()).toBe(-1);
  });
});

describe("P9Writer", () => {
  test("the header holds size, type and tag", () => {
    const w = new P9Writer(64);
    w.reset(64);
    w.u32(5);

    const out = w.header(101, 0xabcd);

    expect([...out]).toEqual([11, 0, 0, 0, 101, 0xcd, 0xab, 5, 0, 0, 0]);
  });

  test("a reply past its limit throws ReplyTooLong", () => {
    const w = new P9Writer(64);
    w.reset(12);

    expect(() => w.str("abcdef")).toThrow(ReplyTooLong);
  });
});
