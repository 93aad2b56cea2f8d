import { describe, expect, test } from "bun:test";
import type { KvmIrqRoute } from "../../../ffi/kvm_structs.ts";
import type { Vm } from "../../../src/hypervisor/vm.ts";
import { defaultIrqchipRoutes, GsiRoutes } from "../../../src/vmm/gsi_routes.ts";

describe("default GSI routes", () => {
  test("ISA GSIs 0-15 go to both the PIC and the IOAPIC pin of the same number", () => {
    const routes = defaultIrqchipRoutes();

    expect(routes.filter((r) => r.gsi === 4)).toEqual([
      { gsi: 4, type: "irqchip", irqchip: 0, pin: 4 },
      { gsi: 4, type: "irqchip", irqchip: 2, pin: 4 },
    ]);
    expect(routes.filter((r) => r.gsi === 9)).toEqual([
      { gsi: 9, type: "irqchip", irqchip: 1, pin: 1 },
      { gsi: 9, type: "irqchip", irqchip: 2, pin: 9 },
    ]);
  });

  test("GSIs 16-23 go to the IOAPIC only, as KVM sets them up", () => {
    const routes = defaultIrqchipRoutes();

    expect(routes.filter((r) => r.gsi === 20)).toEqual([{ gsi: 20, type: "irqchip", irqchip: 2, pin: 20 }]);
    expect(routes.length).toBe(16 * 2 + 8);
  });
});

/** Records what GsiRoutes asks of KVM. */
class RecordingVm {
  routing: KvmIrqRoute[] = [];
  readonly bound = new Map<number, number>();
  setGsiRouting(routes: KvmIrqRoute[]): void {
    this.routing = routes;
  }
  registerIrqfd(fd: number, gsi: number): void {
    this.bound.set(fd, gsi);
  }
  unregisterIrqfd(fd: number): void {
    this.bound.delete(fd);
  }
}

const unmasked = { addressLo: 0xfee0_0000, addressHi: 0, data: 0x41, masked: false };

describe("removing an MSI vector (a hot-unplugged device)", () => {
  test("unbinds its irqfd and drops its route", () => {
    const vm = new RecordingVm();
    const routes = new GsiRoutes(vm as unknown as Vm);
    routes.addMsiVector(7, "test")(unmasked);

    routes.removeMsiVector(7);

    expect([vm.bound.size, vm.routing.filter((r) => r.type === "msi").length]).toEqual([0, 0]);
  });

  test("its GSI goes to the next vector added", () => {
    const vm = new RecordingVm();
    const routes = new GsiRoutes(vm as unknown as Vm);
    routes.addMsiVector(7, "first")(unmasked);
    const gsi = vm.bound.get(7);
    routes.removeMsiVector(7);

    routes.addMsiVector(8, "second")(unmasked);

    expect(vm.bound.get(8)).toBe(gsi!);
  });
});
