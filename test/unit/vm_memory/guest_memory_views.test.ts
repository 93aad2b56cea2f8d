// GuestMemory over views smaller than its regions (issue 13 item 1): the real VM uses 2 GiB views so that regions
// over 4 GiB can be seen at all; these tests use views of 64 bytes (a new view every 32 bytes) so that every
// accessor meets view boundaries in little memory. The answers must be those of one flat byte array.
import { expect, test } from "bun:test";
import { Reader } from "../../../src/devices/virtio/descriptor_utils.ts";
import { ALL_RING_FEATURES, DATA_BASE, FakeDriverQueue } from "../../../src/devices/virtio/testing.ts";
import { BufferRegion, GuestMemory, GuestMemoryError } from "../../../src/vm_memory/guest_memory.ts";

const VIEW = 64;
const STRIDE = VIEW / 2;
const BASE = 0x1000;
const SIZE = 256;

/** One 256-byte region at 0x1000 seen through 64-byte views, and the flat array behind it. */
function smallViews(): { mem: GuestMemory; flat: Uint8Array } {
  const flat = new Uint8Array(SIZE);
  return { mem: new GuestMemory([new BufferRegion(BASE, flat)], -1, VIEW), flat };
}

/** Guest addresses from 8 below to 1 above each view start inside the region. */
function addressesAroundBoundaries(width: number): number[] {
  const out: number[] = [];
  for (let b = STRIDE; b < SIZE; b += STRIDE)
    for (let a = BASE + b - 8; a <= BASE + b + 1; a++) if (a + width <= BASE + SIZE) out.push(a);
  return out;
}

test("a view size that is odd or below 16 bytes is refused", () => {
  const region = () => [new BufferRegion(0, new Uint8Array(64))];

  expect(() => new GuestMemory(region(), -1, 33)).toThrow(RangeError);
  expect(() => new GuestMemory(region(), -1, 8)).toThrow(RangeError);
});

test("writeU64 puts little-endian bytes where the flat array has them, at every offset around view starts", () => {
  const { mem, flat } = smallViews();
  const flatView = new DataView(flat.buffer);
  const misplaced: number[] = [];

  for (const addr of addressesAroundBoundaries(8)) {
    const value = 0x0102_0304_0506_0708n + BigInt(addr);
    mem.writeU64(addr, value);
    if (flatView.getBigUint64(addr - BASE, true) !== value) misplaced.push(addr);
  }

  expect(misplaced).toEqual([]);
});

test("readU16, readU32, readU64 and readU64Safe read the flat array's value around view starts", () => {
  const { mem, flat } = smallViews();
  for (let i = 0; i < SIZE; i++) flat[i] = (i * 7 + 3) & 0xff;
  const flatView = new DataView(flat.buffer);
  const wrong: number[] = [];

  for (const addr of addressesAroundBoundaries(8)) {
    const o = addr - BASE;
    const ok =
      mem.readU16(addr) === flatView.getUint16(o, true) &&
      mem.readU32(addr) === flatView.getUint32(o, true) &&
      mem.readU64(addr) === flatView.getBigUint64(o, true) &&
      mem.readU64Safe(addr) ===
        (flatView.getUint32(o + 4, true) > 0x1f_ffff ? -1 : Number(flatView.getBigUint64(o, true)));
    if (!ok) wrong.push(addr);
  }

  expect(wrong).toEqual([]);
});

test("writeU16 and writeU32 across a view start land in the flat array", () => {
  const { mem, flat } = smallViews();

  mem.writeU32(BASE + STRIDE - 2, 0xaabb_ccdd);
  mem.writeU16(BASE + 2 * STRIDE - 1, 0x1122);

  expect([...flat.subarray(STRIDE - 2, STRIDE + 2)]).toEqual([0xdd, 0xcc, 0xbb, 0xaa]);
  expect([...flat.subarray(2 * STRIDE - 1, 2 * STRIDE + 1)]).toEqual([0x22, 0x11]);
});

test("a slice longer than half a view is a live view of the right bytes", () => {
  const { mem, flat } = smallViews();
  const addr = BASE + 5;
  const length = 3 * VIEW;

  const s = mem.slice(addr, length);
  s.fill(0x5a);
  mem.writeU8(addr + length - 1, 0x77);

  expect(flat.subarray(5, 5 + length - 1).every((b) => b === 0x5a)).toBe(true);
  expect(s[length - 1]).toBe(0x77);
  expect([flat[4], flat[5 + length]]).toEqual([0, 0]);
});

test("read and write of a range over several views copy the flat array's bytes", () => {
  const { mem, flat } = smallViews();
  const data = Uint8Array.from({ length: 150 }, (_, i) => i + 1);

  mem.write(BASE + 17, data);

  expect(flat.subarray(17, 167)).toEqual(data);
  expect(mem.read(BASE + 17, 150)).toEqual(data);
});

test("the whole region is one slice, and an empty range at its end is valid", () => {
  const { mem, flat } = smallViews();
  flat[SIZE - 1] = 9;

  expect(mem.slice(BASE, SIZE)[SIZE - 1]).toBe(9);
  expect(mem.slice(BASE + SIZE, 0).length).toBe(0);
});

test("ranges outside the region or past its end are still refused", () => {
  const { mem } = smallViews();

  expect(() => mem.slice(BASE + SIZE - 4, 5)).toThrow(GuestMemoryError);
  expect(() => mem.readU32(BASE - 2)).toThrow(GuestMemoryError);
  expect(mem.trySlice(BASE + 100, SIZE)).toBeUndefined();
});

test("locate finds a view for any range up to half a view, and -1 for a range no view holds", () => {
  const { mem } = smallViews();
  mem.writeU32(BASE + STRIDE + 30, 0xfeed_f00d);

  const i = mem.locate(BASE + STRIDE + 2, STRIDE);

  expect(mem.viewAt(i).getUint32(BASE + STRIDE + 30 - mem.viewAddr(i), true)).toBe(0xfeed_f00d);
  expect(mem.locate(BASE + 1, VIEW)).toBe(-1);
  expect(mem.isValidRange(BASE + 1, VIEW)).toBe(true);
});

test("hostAddress is contiguous across views: one iovec covers a buffer over a view start", () => {
  const { mem } = smallViews();

  const start = mem.hostAddress(BASE + STRIDE - 10, 20);

  expect(mem.hostAddress(BASE + STRIDE + 10, 1) - start).toBe(20);
  expect(start).toBe(mem.regions[0]!.hostAddr + STRIDE - 10);
});

test("a queue whose descriptor table and buffers cross views gives the driver's chain and bytes", () => {
  // 4 KiB views (a new one every 2 KiB): the 256-entry table (4 KiB) is longer than half a view, so it is read
  // entry by entry; the 3000-byte buffer spans two view starts.
  const mem = GuestMemory.anonymous([{ guestAddr: 0, size: 1 << 20 }], 0x1000);
  const d = new FakeDriverQueue(256, ALL_RING_FEATURES, 0, mem);
  const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & 0xff);
  const queue = d.activate();
  const { addrs } = d.addChain([{ data }, { len: 8, writable: true }]);

  const chain = queue.pop()!;
  const got = new Reader(mem, chain.readable).readExact(3000);

  expect(chain.error).toBeUndefined();
  expect(chain.descriptors.map((x) => [x.addr, x.len, x.writable])).toEqual([
    [DATA_BASE, 3000, false],
    [addrs[1]!, 8, true],
  ]);
  expect(got).toEqual(data);
});
