import { afterEach, describe, expect, test } from "bun:test";
import { Bus } from "../../../src/devices/bus.ts";
import { LOW_MMIO_END, LOW_MMIO_START } from "../../../src/devices/pci/bar_allocator.ts";
import { ROOT_PORT_WINDOW_SIZE } from "../../../src/devices/pci/pcie_root_port.ts";
import { MainThreadHub } from "../../../src/vmm/main_thread_hub.ts";
import { createPciSlots } from "../../../src/vmm/pci_slots.ts";
import { le32, testDevice } from "../pci/fixture.ts";

let hub: MainThreadHub | undefined;
afterEach(() => hub?.close());

function slots() {
  hub = new MainThreadHub();
  const mmio = new Bus("mmio");
  return {
    mmio,
    slots: createPciSlots({ io: new Bus("io"), mmio, hub, memoryEnd: 2 ** 32, resetEventFd: -1 }),
  };
}

describe("hot-plug root ports on bus 0", () => {
  test("slot n gets secondary bus n and a function of its own on bus 0", () => {
    const { slots: s } = slots();

    const ports = [s.addRootPort(1), s.addRootPort(2)];

    expect(ports.map((p) => p.secondaryBus)).toEqual([1, 2]);
    expect(s.root.devices.filter(([at, d]) => at.bus === 0 && ports.includes(d as never)).length).toBe(2);
  });

  test("each port's window is its own 1 MiB-aligned range of the low MMIO area", () => {
    const { slots: s } = slots();

    const [a, b] = [s.addRootPort(1), s.addRootPort(2)];

    for (const p of [a, b]) {
      expect(p.windowBase % ROOT_PORT_WINDOW_SIZE).toBe(0);
      expect(p.windowBase).toBeGreaterThanOrEqual(LOW_MMIO_START);
      expect(p.windowBase + p.windowSize).toBeLessThanOrEqual(LOW_MMIO_END);
    }
    expect(Math.abs(a.windowBase - b.windowBase)).toBeGreaterThanOrEqual(ROOT_PORT_WINDOW_SIZE);
  });

  test("the window is on the MMIO bus before any device is plugged and reaches one once plugged", () => {
    const { mmio, slots: s } = slots();
    const port = s.addRootPort(1);
    const writes: number[] = [];
    const device = { ...testDevice(), writeBar: (_i: number, off: number) => writes.push(off) };
    device.config.setBarAddress(0, port.windowBase);

    mmio.write(port.windowBase + 4, le32(1));
    port.plug(device);
    mmio.write(port.windowBase + 8, le32(1));

    expect(writes).toEqual([8]);
  });
});
