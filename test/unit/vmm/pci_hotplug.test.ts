import { describe, expect, test } from "bun:test";
import { PcieRootPort } from "../../../src/devices/pci/pcie_root_port.ts";
import { PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { PciHotplug, type PciHotplugDeps, PciHotplugError } from "../../../src/vmm/pci_hotplug.ts";
import { testDevice } from "../pci/fixture.ts";

const MIB = 1 << 20;
const port = (n: number) =>
  new PcieRootPort({ slotNumber: n, secondaryBus: n, windowBase: 0xe000_0000 + n * MIB, windowSize: MIB });
/** Requests that are refused before anything is started need none of the VM's parts. */
const noVm = { root: new PciRoot() } as unknown as PciHotplugDeps;

describe("PCI hot-plug requests refused up front", () => {
  test("add with every slot occupied names the slot count", async () => {
    const ports = [port(1), port(2)];
    for (const p of ports) p.plug(testDevice());
    const hotplug = new PciHotplug(ports, noVm);

    const error = await hotplug.addNet("tap0").catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PciHotplugError);
    expect((error as Error).message).toBe("no free PCI hotplug slot (all 2 are in use)");
  });

  test("remove of a bus with no hot-plugged device is refused and leaves the slots alone", async () => {
    const ports = [port(1)];
    const hotplug = new PciHotplug(ports, noVm);

    const error = await hotplug.remove(1).catch((e: unknown) => e);

    expect((error as Error).message).toBe("no hot-plugged device on PCI bus 1");
    expect(ports[0]!.slotStatus).toBe(0);
  });

  test("a refused request does not block the next one", async () => {
    const hotplug = new PciHotplug([port(1)], noVm);
    await hotplug.remove(7).catch(() => {});

    const error = await hotplug.remove(8).catch((e: unknown) => e);

    expect((error as Error).message).toBe("no hot-plugged device on PCI bus 8");
  });
});
