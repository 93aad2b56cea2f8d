import { describe, expect, test } from "bun:test";
import { ChainTooShortError, Reader, Writer } from "../../../src/devices/virtio/descriptor_utils.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";

const mem = () => {
  const m = GuestMemory.anonymous([{ guestAddr: 0, size: 0x1000 }]);
  m.write(0x100, Uint8Array.from([1, 2, 3, 4]));
  m.write(0x200, Uint8Array.from([5, 6, 7, 8]));
  return m;
};
const parts = [
  { addr: 0x100, len: 4 },
  { addr: 0x200, len: 4 },
];

describe("Reader", () => {
  test("splitAt inside a buffer divides the bytes between the two readers", () => {
    const r = new Reader(mem(), parts);
    const tail = r.splitAt(6);
    expect(r.readExact(6)).toEqual(Uint8Array.from([1, 2, 3, 4, 5, 6]));
    expect(tail.readExact(2)).toEqual(Uint8Array.from([7, 8]));
  });

  test("splitAt after a partial read counts from the cursor", () => {
    const r = new Reader(mem(), parts);
    r.consume(3);
    const tail = r.splitAt(2);
    expect(r.available).toBe(2);
    expect(tail.readExact(3)).toEqual(Uint8Array.from([6, 7, 8]));
  });

  test("reading more than is left throws ChainTooShortError and reads nothing", () => {
    const r = new Reader(mem(), parts);
    expect(() => r.readExact(9)).toThrow(ChainTooShortError);
    expect(r.available).toBe(8);
  });

  test("zero-length buffers are skipped", () => {
    const r = new Reader(mem(), [{ addr: 0x100, len: 0 }, ...parts]);
    expect(r.readU32()).toBe(0x04030201);
  });
});

describe("Writer", () => {
  test("write stops at the end of the writable space and reports the count", () => {
    const m = mem();
    const w = new Writer(m, parts);
    expect(w.write(new Uint8Array(10).fill(9))).toBe(8);
    expect(w.bytesWritten).toBe(8);
  });

  test("writeAll refuses data that does not fit without writing any of it", () => {
    const m = mem();
    const w = new Writer(m, [{ addr: 0x100, len: 2 }]);
    expect(() => w.writeAll(Uint8Array.of(7, 7, 7))).toThrow(ChainTooShortError);
    expect(m.readU8(0x100)).toBe(1);
  });
});
