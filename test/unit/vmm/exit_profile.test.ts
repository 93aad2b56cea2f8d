import { describe, expect, test } from "bun:test";
import { Bus, type BusDevice } from "../../../src/devices/bus.ts";
import { ExitProfile } from "../../../src/vmm/exit_profile.ts";

const device = (debugLabel: string): BusDevice => ({
  debugLabel,
  read: (_o, d) => d.fill(7),
  write: () => {},
});

describe("ExitProfile (CROSVM_TRACE_EXITS=1)", () => {
  test("counts port exits per port and direction, named by device", () => {
    const io = new Bus("io");
    io.insert(device("serial"), 0x3f8, 8);
    const profile = new ExitProfile(0, io, new Bus("mmio"));
    const data = new Uint8Array(1);

    profile.io.write(0x3f8, data);
    profile.io.write(0x3f8, data);
    profile.io.read(0x3fd, data);

    const report = profile.report();
    expect(report).toMatch(/vCPU 0: 3 port\/MMIO exits/);
    expect(report).toMatch(/ {7}2 .* serial port 0x3f8 write/);
    expect(report).toMatch(/ {7}1 .* serial port 0x3fd read/);
  });

  test("counts MMIO exits per device range and still forwards the access", () => {
    const mmio = new Bus("mmio");
    mmio.insert(device("ecam"), 0xf400_0000, 0x400_0000);
    const profile = new ExitProfile(1, new Bus("io"), mmio);
    const data = new Uint8Array(4);

    const hit = profile.mmio.read(0xf400_8000, data);
    profile.mmio.read(0xf450_0000, data);

    expect(hit).toBe(true);
    expect([...data]).toEqual([7, 7, 7, 7]);
    expect(profile.report()).toMatch(/ {7}2 .* ecam mmio 0xf4000000 read/);
  });

  test("an exit at an unmapped address is reported as unmapped", () => {
    const profile = new ExitProfile(0, new Bus("io"), new Bus("mmio"));

    const hit = profile.io.read(0x80, new Uint8Array(1));

    expect(hit).toBe(false);
    expect(profile.report()).toMatch(/unmapped port 0x80 read/);
  });
});

describe("ExitProfile slices (--trace-file)", () => {
  test("with a slice length the same counts are kept per slice, labelled as the report labels them", () => {
    const io = new Bus("io");
    io.insert(device("serial"), 0x3f8, 8);
    const profile = new ExitProfile(0, io, new Bus("mmio"), 1000);
    const data = new Uint8Array(1);

    profile.io.write(0x3f8, data);
    profile.io.write(0x3f8, data);
    profile.io.read(0x3fd, data);

    const slices = profile.slices();
    expect(slices).toHaveLength(1);
    expect(slices[0]!.exits["serial port 0x3f8 write"]!.count).toBe(2);
    expect(slices[0]!.exits["serial port 0x3fd read"]!.count).toBe(1);
  });

  test("exits a slice length apart land in different slices", async () => {
    const io = new Bus("io");
    io.insert(device("serial"), 0x3f8, 8);
    const profile = new ExitProfile(0, io, new Bus("mmio"), 5);
    const data = new Uint8Array(1);

    profile.io.write(0x3f8, data);
    await Bun.sleep(10);
    profile.io.write(0x3f8, data);

    expect(profile.slices().map((s) => s.exits["serial port 0x3f8 write"]!.count)).toEqual([1, 1]);
  });

  test("a slice ended by an exit long after it lasts one slice length, not up to that exit", async () => {
    const io = new Bus("io");
    io.insert(device("serial"), 0x3f8, 8);
    const profile = new ExitProfile(0, io, new Bus("mmio"), 5);
    const data = new Uint8Array(1);

    profile.io.write(0x3f8, data);
    await Bun.sleep(40);
    profile.io.write(0x3f8, data);

    const [idleAfter, last] = profile.slices();
    expect(idleAfter!.durMs).toBe(5);
    expect(last!.startMs).toBeGreaterThanOrEqual(idleAfter!.startMs + 40);
  });

  test("without a slice length no slices are kept", () => {
    const profile = new ExitProfile(0, new Bus("io"), new Bus("mmio"));

    profile.io.read(0x80, new Uint8Array(1));

    expect(profile.slices()).toEqual([]);
  });
});
