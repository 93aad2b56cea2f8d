// The TUN/TAP ioctl numbers and struct ifreq layout of ffi/tun.ts, recomputed from include/uapi/asm-generic/ioctl.h
// (_IOW(type, nr, size) = 1 << 30 | size << 16 | type << 8 | nr) and include/uapi/linux/if.h.
import { expect, test } from "bun:test";
import {
  IFREQ_SIZE,
  ifreq,
  ifreqFlags,
  ifreqName,
  ifreqWithAddress,
  TUNGETIFF,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETQUEUE,
  TUNSETVNETHDRSZ,
} from "../../../../ffi/tun.ts";

const T = "T".charCodeAt(0);
const ioW = (nr: number, size: number) => ((1 << 30) | (size << 16) | (T << 8) | nr) >>> 0;
const ioR = (nr: number, size: number) => ((2 << 30) | (size << 16) | (T << 8) | nr) >>> 0;

test("the TUN ioctls are _IOW/_IOR('T', nr, int) with if_tun.h's numbers", () => {
  expect([TUNSETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TUNSETQUEUE, TUNGETIFF]).toEqual([
    ioW(202, 4),
    ioW(208, 4),
    ioW(216, 4),
    ioW(217, 4),
    ioR(210, 4),
  ]);
});

test("struct ifreq is 40 bytes: the name first, ifr_flags at byte 16", () => {
  const req = ifreq("tap7", 0x5002);
  expect([req.length, ifreqName(req), ifreqFlags(req), req[16], req[17]]).toEqual([
    IFREQ_SIZE,
    "tap7",
    0x5002,
    2,
    0x50,
  ]);
});

test("an interface name of 16 bytes or more does not fit IFNAMSIZ and is refused", () => {
  expect(() => ifreq("a-very-long-name")).toThrow("longer than 15 bytes");
});

test("ifr_addr holds a struct sockaddr_in: AF_INET at 16, the address in network order at 20", () => {
  const req = ifreqWithAddress("tap0", [192, 168, 10, 1]);
  expect([...req.subarray(16, 24)]).toEqual([2, 0, 0, 0, 192, 168, 10, 1]);
});
