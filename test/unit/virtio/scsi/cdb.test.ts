import { describe, expect, test } from "bun:test";
import { cdbLength, decodeCdb } from "../../../../src/devices/virtio/scsi/cdb.ts";
import { SENSE } from "../../../../src/devices/virtio/scsi/sense.ts";
import { cdb, cdbs } from "./fixture.ts";

describe("CDB decoding (SPC-4, SBC-3)", () => {
  test("TEST UNIT READY decodes with no fields", () => {
    expect(decodeCdb(cdbs.testUnitReady())).toEqual({ op: "test_unit_ready" });
  });

  test("REQUEST SENSE takes its allocation length from byte 4", () => {
    expect(decodeCdb(cdbs.requestSense(18))).toEqual({ op: "request_sense", allocLen: 18 });
  });

  test("REQUEST SENSE for descriptor-format sense is an invalid field", () => {
    expect(decodeCdb(cdb(0x03, 0x01, 0, 0, 18, 0))).toMatchObject({
      op: "refused",
      sense: SENSE.invalidFieldInCdb,
    });
  });

  test("standard INQUIRY decodes its 16-bit allocation length", () => {
    expect(decodeCdb(cdbs.inquiry(0x1234))).toEqual({
      op: "inquiry",
      evpd: false,
      page: 0,
      allocLen: 0x1234,
    });
  });

  test("INQUIRY with EVPD names its page", () => {
    expect(decodeCdb(cdbs.inquiry(255, 0xb0))).toEqual({
      op: "inquiry",
      evpd: true,
      page: 0xb0,
      allocLen: 255,
    });
  });

  test("INQUIRY with a page code but no EVPD is an invalid field", () => {
    expect(decodeCdb(cdb(0x12, 0, 0x83, 0, 255, 0))).toMatchObject({
      op: "refused",
      sense: SENSE.invalidFieldInCdb,
    });
  });

  test("INQUIRY with CMDDT is an invalid field", () => {
    expect(decodeCdb(cdb(0x12, 0x02, 0, 0, 255, 0))).toMatchObject({
      op: "refused",
      sense: SENSE.invalidFieldInCdb,
    });
  });

  test("MODE SENSE(6) decodes DBD, page control, page and its 8-bit allocation length", () => {
    expect(decodeCdb(cdbs.modeSense6(0x08, 192, 2, true))).toEqual({
      op: "mode_sense",
      ten: false,
      dbd: true,
      pageControl: 2,
      page: 0x08,
      subpage: 0,
      allocLen: 192,
    });
  });

  test("MODE SENSE(10) takes its allocation length from bytes 7-8", () => {
    expect(decodeCdb(cdbs.modeSense10(0x3f, 0x200))).toMatchObject({
      op: "mode_sense",
      ten: true,
      allocLen: 0x200,
    });
  });

  test("READ CAPACITY(10) decodes", () => {
    expect(decodeCdb(cdbs.readCapacity10())).toEqual({ op: "read_capacity_10" });
  });

  test("READ CAPACITY(16) is SERVICE ACTION IN(16) with action 10h", () => {
    expect(decodeCdb(cdbs.readCapacity16(32))).toEqual({ op: "read_capacity_16", allocLen: 32 });
  });

  test("another SERVICE ACTION IN(16) action is an invalid operation code", () => {
    expect(decodeCdb(cdb(0x9e, 0x12))).toMatchObject({ op: "refused", sense: SENSE.invalidOpcode });
  });

  test("READ(6) takes a 21-bit LBA and 0 blocks means 256", () => {
    expect(decodeCdb(cdb(0x08, 0xff, 0x12, 0x34, 0, 0))).toEqual({ op: "read", lba: 0x1f1234, blocks: 256 });
  });

  test("WRITE(6) decodes LBA and length", () => {
    expect(decodeCdb(cdbs.write6(9, 3))).toEqual({ op: "write", lba: 9, blocks: 3 });
  });

  test("READ(10) and WRITE(10) take a 32-bit LBA and a 16-bit length", () => {
    expect(decodeCdb(cdbs.read10(0xfedcba98, 0xffff))).toEqual({
      op: "read",
      lba: 0xfedcba98,
      blocks: 0xffff,
    });
    expect(decodeCdb(cdbs.write10(5, 1))).toEqual({ op: "write", lba: 5, blocks: 1 });
  });

  test("READ(16) and WRITE(16) take a 64-bit LBA and a 32-bit length", () => {
    expect(decodeCdb(cdbs.read16(0x1_0000_0000, 0x10000))).toEqual({
      op: "read",
      lba: 2 ** 32,
      blocks: 0x10000,
    });
    expect(decodeCdb(cdbs.write16(7, 2))).toEqual({ op: "write", lba: 7, blocks: 2 });
  });

  test("a 16-byte LBA beyond 2^53 is out of range before any arithmetic", () => {
    expect(decodeCdb(cdbs.read16(2n ** 64n - 1n, 1))).toMatchObject({
      op: "refused",
      sense: SENSE.lbaOutOfRange,
    });
  });

  test("READ(10) asking for protection information is an invalid field", () => {
    const c = cdbs.read10(0, 1);
    c[1] = 0x20;
    expect(decodeCdb(c)).toMatchObject({ op: "refused", sense: SENSE.invalidFieldInCdb });
  });

  test("SYNCHRONIZE CACHE(10) and (16) decode their range", () => {
    expect(decodeCdb(cdbs.syncCache10(4, 8))).toEqual({ op: "synchronize_cache", lba: 4, blocks: 8 });
    expect(decodeCdb(cdbs.syncCache16(4, 8))).toEqual({ op: "synchronize_cache", lba: 4, blocks: 8 });
  });

  test("WRITE SAME(10) decodes UNMAP", () => {
    expect(decodeCdb(cdbs.writeSame10(3, 9, true))).toEqual({
      op: "write_same",
      lba: 3,
      blocks: 9,
      unmap: true,
      noDataOut: false,
    });
  });

  test("WRITE SAME(16) decodes NDOB", () => {
    expect(decodeCdb(cdbs.writeSame16(3, 9, 0x09))).toEqual({
      op: "write_same",
      lba: 3,
      blocks: 9,
      unmap: true,
      noDataOut: true,
    });
  });

  test("WRITE SAME with ANCHOR is an invalid field", () => {
    expect(decodeCdb(cdbs.writeSame16(0, 1, 0x10))).toMatchObject({
      op: "refused",
      sense: SENSE.invalidFieldInCdb,
    });
  });

  test("UNMAP takes its parameter list length from bytes 7-8", () => {
    expect(decodeCdb(cdbs.unmap(24))).toEqual({ op: "unmap", paramLen: 24 });
  });

  test("REPORT LUNS decodes SELECT REPORT and a 32-bit allocation length", () => {
    const c = cdbs.reportLuns(0x10000);
    c[2] = 2;
    expect(decodeCdb(c)).toEqual({ op: "report_luns", select: 2, allocLen: 0x10000 });
  });

  test("an unknown operation code is INVALID COMMAND OPERATION CODE", () => {
    expect(decodeCdb(cdb(0xc5))).toMatchObject({ op: "refused", sense: SENSE.invalidOpcode });
  });

  test("NACA in the CONTROL byte is an invalid field", () => {
    const c = cdbs.read10(0, 1);
    c[9] = 0x04;
    expect(decodeCdb(c)).toMatchObject({ op: "refused", sense: SENSE.invalidFieldInCdb });
  });

  test("CDB length follows the operation code's group", () => {
    expect([0x00, 0x28, 0x5a, 0x88, 0xa0, 0xc0].map(cdbLength)).toEqual([6, 10, 10, 16, 12, 0]);
  });

  test("a buffer shorter than 16 bytes is refused as a programming error", () => {
    expect(() => decodeCdb(new Uint8Array(6))).toThrow(RangeError);
  });
});
