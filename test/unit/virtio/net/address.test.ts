// --net's address forms: MAC addresses, IPv4 addresses and netmasks.
import { expect, test } from "bun:test";
import { parseIpv4, parseMac, parseNetmask } from "../../../../src/devices/virtio/net/address.ts";

test("a MAC address is six two-digit hex octets separated by colons", () => {
  expect(parseMac("52:54:00:AB:cd:0f")).toEqual(Uint8Array.of(0x52, 0x54, 0, 0xab, 0xcd, 0x0f));
  expect(
    ["52:54:00:12:34", "52-54-00-12-34-56", "5:54:00:12:34:56", "zz:54:00:12:34:56"].map(parseMac),
  ).toEqual([undefined, undefined, undefined, undefined]);
});

test("a multicast MAC address (group bit set) cannot be a NIC's own", () => {
  expect(parseMac("01:00:5e:00:00:01")).toBeUndefined();
});

test("an IPv4 address is four decimal octets up to 255", () => {
  expect(parseIpv4("192.168.10.1")).toEqual([192, 168, 10, 1]);
  expect(["192.168.10", "256.1.1.1", "01.2.3.4", "a.b.c.d"].map(parseIpv4)).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

test("a netmask's ones are contiguous from the top", () => {
  expect(["255.255.255.0", "255.255.128.0", "255.255.255.255"].map(parseNetmask)).toEqual([
    [255, 255, 255, 0],
    [255, 255, 128, 0],
    [255, 255, 255, 255],
  ]);
  expect(["255.0.255.0", "255.255.255.1"].map(parseNetmask)).toEqual([undefined, undefined]);
});
