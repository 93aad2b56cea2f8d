import { describe, expect, test } from "bun:test";
import { FIXED_SENSE_SIZE, SENSE, fixedSense } from "../../../../src/devices/virtio/scsi/sense.ts";

describe("fixed-format sense data (SPC-4 4.5.3)", () => {
  test("is 18 bytes: response code 70h, key, additional length 10, ASC and ASCQ", () => {
    const s = fixedSense({ key: 0x5, asc: 0x24, ascq: 0x01 });

    expect(s.length).toBe(FIXED_SENSE_SIZE);
    expect(Array.from(s)).toEqual([0x70, 0, 0x5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x01, 0, 0, 0, 0]);
  });

  test("the named conditions carry SPC-4's key and codes", () => {
    expect(SENSE.invalidOpcode).toEqual({ key: 0x5, asc: 0x20, ascq: 0 });
    expect(SENSE.lbaOutOfRange).toEqual({ key: 0x5, asc: 0x21, ascq: 0 });
    expect(SENSE.invalidFieldInCdb).toEqual({ key: 0x5, asc: 0x24, ascq: 0 });
    expect(SENSE.writeProtected).toEqual({ key: 0x7, asc: 0x27, ascq: 0 });
    expect(SENSE.lunNotSupported).toEqual({ key: 0x5, asc: 0x25, ascq: 0 });
  });
});
