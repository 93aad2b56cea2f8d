import { describe, expect, test } from "bun:test";
import type { BusDevice } from "../../../src/devices/bus.ts";
import {
  CONFIG_IO_PRESENCE_KIND,
  ConfigIoWithPresence,
} from "../../../src/devices/pci/config_io_presence.ts";
import { PciConfigIo, PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { registerDeviceKind, reviveDevice } from "../../../src/devices/shared_device.ts";
import { cf8, le32, testDevice, u32 } from "./fixture.ts";

/** The main thread's PciConfigIo, counting the accesses that reach it (as the hub would forward them). */
class CountingConfigIo extends PciConfigIo {
  reads = 0;
  writes = 0;
  resets: number[] = [];
  constructor(root: PciRoot) {
    super(root, (data) => this.resets.push(data[0]!));
  }
  override read(offset: number, data: Uint8Array): void {
    this.reads++;
    super.read(offset, data);
  }
  override write(offset: number, data: Uint8Array): void {
    this.writes++;
    super.write(offset, data);
  }
}

/** A root with a test device at 00:03.0, its main-thread window, and the vCPU-side window over it. */
function setup() {
  const root = new PciRoot();
  root.add(testDevice(), { bus: 0, device: 3, function: 0 });
  const main = new CountingConfigIo(root);
  const vcpu = new ConfigIoWithPresence(main, main.latch, root.presence);
  return { root, main, vcpu };
}

function read32(dev: BusDevice, address: number): number {
  dev.write(0, le32(address));
  const d = new Uint8Array(4);
  dev.read(4, d);
  return u32(d);
}

describe("0xCF8/0xCFC answered in the vCPU thread", () => {
  test("an absent function reads all-ones without reaching the main thread", () => {
    const { main, vcpu } = setup();

    const value = read32(vcpu, cf8(7, 4, 0, 0));

    expect(value).toBe(0xffffffff);
    expect(main.reads + main.writes).toBe(0);
  });

  test("a present function's registers come from the root", () => {
    const { main, vcpu } = setup();

    const value = read32(vcpu, cf8(0, 3, 0, 0));

    expect(value).toBe(0x5678_1234);
    expect(main.reads).toBe(1);
  });

  test("the host bridge 00:00.0 is present without being added by the VMM", () => {
    const { vcpu } = setup();

    expect(read32(vcpu, cf8(0, 0, 0, 0))).toBe(0x1237_8086);
  });

  test("CONFIG_ADDRESS set in the vCPU thread is the one the main thread's window uses", () => {
    const { main, vcpu } = setup();

    vcpu.write(0, le32(cf8(0, 3, 0, 0)));
    const d = new Uint8Array(4);
    main.read(4, d);

    expect(u32(d)).toBe(0x5678_1234);
    expect(main.writes).toBe(0);
  });

  test("CONFIG_ADDRESS reads back with its reserved bits clear, without reaching the main thread", () => {
    const { main, vcpu } = setup();

    vcpu.write(0, le32(0xffff_ffff));
    const d = new Uint8Array(4);
    vcpu.read(0, d);

    expect(u32(d)).toBe(0x80ff_fffc);
    expect(main.reads + main.writes).toBe(0);
  });

  test("a write to an absent function is dropped in the vCPU thread", () => {
    const { main, vcpu } = setup();

    vcpu.write(0, le32(cf8(0, 9, 0, 1)));
    vcpu.write(4, Uint8Array.of(0x06, 0x00));

    expect(main.writes).toBe(0);
  });

  test("a write to a present function reaches it", () => {
    const { root, vcpu } = setup();

    vcpu.write(0, le32(cf8(0, 3, 0, 4)));
    vcpu.write(4, le32(0xffff_ffff));

    expect(root.device({ bus: 0, device: 3, function: 0 })!.config.readReg(4)).toBe(0xffff_f000);
  });

  test("a one-byte write to 0xCF9 reaches the reset control hook", () => {
    const { main, vcpu } = setup();

    vcpu.write(1, Uint8Array.of(0x06));

    expect(main.resets).toEqual([0x06]);
  });

  test("with configuration cycles disabled the data port reads all-ones in the vCPU thread", () => {
    const { main, vcpu } = setup();

    const value = read32(vcpu, cf8(0, 3, 0, 0) & 0x7fff_ffff);

    expect(value).toBe(0xffffffff);
    expect(main.reads).toBe(0);
  });

  test("every access answers byte for byte what the main thread's window answers", () => {
    const { root, vcpu } = setup();
    const reference = root.configIo();
    const addresses = [cf8(0, 0, 0, 0), cf8(0, 3, 0, 1), cf8(0, 3, 0, 4), cf8(0, 3, 1, 0), cf8(2, 0, 0, 0)];
    const mismatches: string[] = [];

    for (const address of [...addresses, addresses[0]! & 0x7fff_ffff, 0x1234_5678])
      for (const offset of [0, 1, 2, 3, 4, 5, 6, 7])
        for (const size of [1, 2, 4]) {
          vcpu.write(0, le32(address));
          reference.write(0, le32(address));
          const [mine, theirs] = [new Uint8Array(size), new Uint8Array(size)];
          vcpu.read(offset, mine);
          reference.read(offset, theirs);
          if (mine.join() !== theirs.join())
            mismatches.push(`${address.toString(16)} +${offset} x${size}: ${mine} vs ${theirs}`);
        }

    expect(mismatches).toEqual([]);
  });

  test("the window's vCPU share revives as the vCPU-side device over the forward device", () => {
    const root = new PciRoot();
    const main = new CountingConfigIo(root);
    registerDeviceKind("test-forward-config-io", () => main);

    const revived = reviveDevice(main.vcpuShare({ kind: "test-forward-config-io", state: null }));
    const present = read32(revived, cf8(0, 0, 0, 0));
    const absent = read32(revived, cf8(0, 1, 0, 0));

    expect(main.vcpuShare({ kind: "x", state: null }).kind).toBe(CONFIG_IO_PRESENCE_KIND);
    expect([present, absent]).toEqual([0x1237_8086, 0xffffffff]);
    expect(main.reads).toBe(1);
  });
});
