import { describe, expect, test } from "bun:test";
import { Bus, type BusDevice } from "../../../src/devices/bus.ts";

class RecordingDevice implements BusDevice {
  readonly writes: { offset: number; data: number[] }[] = [];
  constructor(
    readonly debugLabel: string,
    readonly fill = 0xaa,
  ) {}
  read(offset: number, data: Uint8Array): void {
    data.fill(this.fill);
    data[0] = offset;
  }
  write(offset: number, data: Uint8Array): void {
    this.writes.push({ offset, data: [...data] });
  }
}

describe("Bus", () => {
  test("a write reaches the device with the offset from its range start", () => {
    const bus = new Bus("io");
    const dev = new RecordingDevice("dev");
    bus.insert(dev, 0x3f8, 8);

    const handled = bus.write(0x3fb, new Uint8Array([0x80]));

    expect(handled).toBe(true);
    expect(dev.writes).toEqual([{ offset: 3, data: [0x80] }]);
  });

  test("a read finds the device whose range holds the address", () => {
    const bus = new Bus("io");
    bus.insert(new RecordingDevice("a", 0x11), 0x60, 1);
    bus.insert(new RecordingDevice("b", 0x22), 0x64, 1);
    const data = new Uint8Array(2);

    bus.read(0x64, data);

    expect([...data]).toEqual([0, 0x22]);
  });

  test("a read with no device fills zeros and reports it was not handled", () => {
    const bus = new Bus("mmio");
    bus.insert(new RecordingDevice("a"), 0x1000, 0x10);
    const data = new Uint8Array([9, 9, 9, 9]);

    const handled = bus.read(0x1010, data);

    expect(handled).toBe(false);
    expect([...data]).toEqual([0, 0, 0, 0]);
  });

  test("a write with no device reports it was not handled", () => {
    const bus = new Bus("mmio");

    expect(bus.write(0x5000, new Uint8Array(4))).toBe(false);
  });

  test("an overlapping insert is refused naming both ranges", () => {
    const bus = new Bus("io");
    bus.insert(new RecordingDevice("serial"), 0x3f8, 8);

    expect(() => bus.insert(new RecordingDevice("other"), 0x3ff, 2)).toThrow(
      "io bus: other at [0x3ff, 0x401) overlaps serial at [0x3f8, 0x400)",
    );
  });

  test("a zero-length insert is refused", () => {
    const bus = new Bus("io");

    expect(() => bus.insert(new RecordingDevice("empty"), 0x70, 0)).toThrow("empty range");
  });

  test("only the base address of an access selects the device", () => {
    const bus = new Bus("mmio");
    const dev = new RecordingDevice("dev");
    bus.insert(dev, 0x1000, 0x40);

    bus.write(0x103f, new Uint8Array(4));

    expect(dev.writes[0]?.offset).toBe(0x3f);
  });

  test("a removed device no longer receives accesses, even right after a hit", () => {
    const bus = new Bus("io");
    const dev = new RecordingDevice("dev");
    bus.insert(dev, 0x80, 1);
    bus.write(0x80, new Uint8Array(1));

    bus.remove(0x80);

    expect(bus.write(0x80, new Uint8Array(1))).toBe(false);
    expect(dev.writes.length).toBe(1);
  });
});
