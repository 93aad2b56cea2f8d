import { expect, test } from "bun:test";
import {
  decodeActivate,
  decodeConfigAccess,
  decodeHello,
  decodeQueueTrace,
  decodeText,
  encodeActivate,
  encodeHello,
  encodeQueueTrace,
  encodeText,
  encodeReadConfig,
  encodeWriteConfig,
  MAX_MESSAGE,
  MAX_SLICES_PER_MESSAGE,
  Op,
  ProtocolError,
  QUEUE_ENTRY_SIZE,
  QUEUE_SLICE_SIZE,
  QUEUE_TRACE_HEADER,
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

const slice = (queue: number, requests = 3) => ({
  queue,
  startMs: 1_765_000_000_050,
  requests,
  totalUs: 1234.5,
  maxUs: 800.25,
});

test("a queue trace message is a 7-byte header and 30 bytes per slice", () => {
  const [msg] = encodeQueueTrace([slice(0), slice(1)], 0);

  expect([msg![0], msg!.length, QUEUE_TRACE_HEADER, QUEUE_SLICE_SIZE]).toEqual([
    Op.EventQueueTrace,
    67,
    7,
    30,
  ]);
});

test("queue trace slices and the dropped count decode to what was encoded", () => {
  const [msg] = encodeQueueTrace([slice(2, 7)], 5);

  expect(decodeQueueTrace(msg!)).toEqual({ dropped: 5, slices: [slice(2, 7)] });
});

test("slices that do not fit in one message are split, each message within MAX_MESSAGE", () => {
  const slices = Array.from({ length: MAX_SLICES_PER_MESSAGE + 1 }, (_, i) => slice(i % 4));

  const messages = encodeQueueTrace(slices, 0);

  expect(messages.map((m) => decodeQueueTrace(m).slices.length)).toEqual([MAX_SLICES_PER_MESSAGE, 1]);
  expect(Math.max(...messages.map((m) => m.length))).toBeLessThanOrEqual(MAX_MESSAGE);
});

test("nothing to report is no message", () => {
  expect(encodeQueueTrace([], 0)).toEqual([]);
});

test("a queue trace whose length does not match its slice count is refused", () => {
  const [msg] = encodeQueueTrace([slice(0)], 0);

  expect(() => decodeQueueTrace(msg!.subarray(0, msg!.length - 1))).toThrow(/expected 37 for 1 slices/);
});
