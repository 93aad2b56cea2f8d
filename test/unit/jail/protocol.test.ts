import { expect, test } from "bun:test";
import {
  decodeActivate,
  decodeConfigAccess,
  decodeHello,
  decodeText,
  encodeActivate,
  encodeHello,
  encodeText,
  encodeReadConfig,
  encodeWriteConfig,
  Op,
  ProtocolError,
  QUEUE_ENTRY_SIZE,
} from "../../../src/jail/device_process/protocol.ts";

test("Hello decodes to what was encoded", () => {
  const hello = {
    pid: 4242,
    deviceType: 4,
    features: 1n << 32n,
    queueMaxSizes: [256, 128],
    debugLabel: "virtio-rng",
  };

  expect(decodeHello(encodeHello(hello))).toEqual(hello);
});

test("a device process's label and texts arrive escaped to printable ASCII (a device may be compromised)", () => {
  const hello = {
    pid: 1,
    deviceType: 4,
    features: 0n,
    queueMaxSizes: [],
    debugLabel: "rng\n\x1b[2J" + "x".repeat(100),
  };

  expect(decodeHello(encodeHello(hello)).debugLabel).toBe(`rng\\n\\x1b[2J${"x".repeat(52)}...`);
  expect(decodeText(encodeText(Op.ReplyError, "bad\r\nforged line"))).toBe("bad\\r\\nforged line");
});

test("a truncated Hello is refused", () => {
  const msg = encodeHello({ pid: 1, deviceType: 2, features: 0n, queueMaxSizes: [256, 256], debugLabel: "" });

  expect(() => decodeHello(msg.subarray(0, 20))).toThrow(ProtocolError);
});

test("ReadConfig is 9 bytes: opcode, u32 offset, u32 length", () => {
  const buf = new Uint8Array(9);

  expect(encodeReadConfig(buf, 0x10, 4)).toBe(9);
  expect([...buf]).toEqual([Op.ReadConfig, 0x10, 0, 0, 0, 4, 0, 0, 0]);
  expect(decodeConfigAccess(buf)).toMatchObject({ offset: 0x10, length: 4 });
});

test("WriteConfig carries its offset and data", () => {
  const buf = new Uint8Array(64);
  const len = encodeWriteConfig(buf, 8, Uint8Array.of(9, 8, 7));

  const { offset, data } = decodeConfigAccess(buf.subarray(0, len));

  expect(offset).toBe(8);
  expect([...data]).toEqual([9, 8, 7]);
});

test("Activate round-trips every queue field and the features", () => {
  const queue = {
    index: 1,
    maxSize: 256,
    size: 128,
    vector: 3,
    nextAvail: 65535,
    nextUsed: 7,
    ready: true,
    descTable: 0x1_0000_1000,
    availRing: 0x2000,
    usedRing: 0x3000,
  };

  const msg = encodeActivate(0x1_3000_0000n, [queue]);

  expect(msg.length).toBe(11 + QUEUE_ENTRY_SIZE);
  expect(decodeActivate(msg)).toEqual({ features: 0x1_3000_0000n, queues: [queue] });
});

test("an Activate whose length does not match its queue count is refused", () => {
  const msg = encodeActivate(0n, []);
  msg[9] = 1;

  expect(() => decodeActivate(msg)).toThrow(/expected 51 for 1 queues/);
});
