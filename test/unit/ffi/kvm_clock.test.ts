// Pins struct kvm_clock_data and the kvmclock ioctls to include/uapi/linux/kvm.h (sizeof/offsetof and the request
// numbers as gcc reports them for x86-64 from /usr/include/linux/kvm.h).
import { describe, expect, test } from "bun:test";
import { KVM_GET_CLOCK, KVM_KVMCLOCK_CTRL, KVM_SET_CLOCK } from "../../../ffi/kvm.ts";
import {
  decodeClockData,
  encodeClockData,
  KVM_CLOCK_DATA,
  KVM_CLOCK_DATA_SIZE,
} from "../../../ffi/kvm_structs.ts";

describe("struct kvm_clock_data", () => {
  test("is 48 bytes with clock at 0, flags at 8, realtime at 16 and host_tsc at 24", () => {
    expect(KVM_CLOCK_DATA_SIZE).toBe(48);
    expect(KVM_CLOCK_DATA).toEqual({ clock: 0, flags: 8, realtime: 16, hostTsc: 24 });
  });

  test("encodes each field little-endian at its offset and leaves the padding zero", () => {
    const bytes = encodeClockData({
      clock: 0x0102030405060708n,
      flags: 6,
      realtime: 0x1112131415161718n,
      hostTsc: 0x2122232425262728n,
    });

    const dv = new DataView(bytes.buffer);
    expect(dv.getBigUint64(0, true)).toBe(0x0102030405060708n);
    expect(dv.getUint32(8, true)).toBe(6);
    expect(dv.getUint32(12, true)).toBe(0);
    expect(dv.getBigUint64(16, true)).toBe(0x1112131415161718n);
    expect(dv.getBigUint64(24, true)).toBe(0x2122232425262728n);
    expect([...bytes.subarray(32)]).toEqual(new Array(16).fill(0));
  });

  test("decodes what it encodes", () => {
    const data = { clock: 123456789n, flags: 2, realtime: 0n, hostTsc: 987654321n };

    expect(decodeClockData(encodeClockData(data))).toEqual(data);
  });

  test("refuses a buffer shorter than 48 bytes", () => {
    expect(() => decodeClockData(new Uint8Array(40))).toThrow("kvm_clock_data: buffer of 40 bytes, need 48");
  });
});

describe("kvmclock ioctl numbers", () => {
  test.each([
    ["KVM_SET_CLOCK = _IOW(KVMIO, 0x7b, struct kvm_clock_data)", KVM_SET_CLOCK, 0x4030ae7b],
    ["KVM_GET_CLOCK = _IOR(KVMIO, 0x7c, struct kvm_clock_data)", KVM_GET_CLOCK, 0x8030ae7c],
    ["KVM_KVMCLOCK_CTRL = _IO(KVMIO, 0xad)", KVM_KVMCLOCK_CTRL, 0xaead],
  ])("%s is %d", (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });
});
