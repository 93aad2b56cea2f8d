// The VM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table, so the routes KVM sets up with the
// in-kernel irqchip (arch/x86/kvm/irq_comm.c, kvm_setup_default_irq_routing: GSI 0-15 to the PIC and IOAPIC pin
// of the same number, GSI 16-23 to the IOAPIC only) are kept here and every MSI route is added on top. Each
// MSI-X vector of a device gets its own GSI from 24 up; its irqfd is bound to the GSI only while the vector is
// unmasked, and KVM injects a signal that arrived while it was unbound as soon as it is bound again (the pending
// bit of the MSI-X PBA, handled by the kernel).
import type { KvmIrqRoute } from "../../ffi/kvm_structs.ts";
import { GuestLog } from "../base/guest_log.ts";
import { logger } from "../base/log.ts";
import type { MsixVectorState } from "../devices/pci/msix.ts";
import type { Vm } from "../hypervisor/vm.ts";

const log = logger("vmm::gsi_routes");

/** KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC (arch/x86/include/uapi/asm/kvm.h). */
const PIC_MASTER = 0;
const PIC_SLAVE = 1;
const IOAPIC = 2;
/** KVM_IOAPIC_NUM_PINS. */
export const IOAPIC_PINS = 24;

export function defaultIrqchipRoutes(): KvmIrqRoute[] {
  const routes: KvmIrqRoute[] = [];
  for (let gsi = 0; gsi < IOAPIC_PINS; gsi++) {
    if (gsi < 8) routes.push({ gsi, type: "irqchip", irqchip: PIC_MASTER, pin: gsi });
    else if (gsi < 16) routes.push({ gsi, type: "irqchip", irqchip: PIC_SLAVE, pin: gsi - 8 });
    routes.push({ gsi, type: "irqchip", irqchip: IOAPIC, pin: gsi });
  }
  return routes;
}

interface MsiVector {
  readonly gsi: number;
  readonly irqfd: number;
  route?: { addressLo: number; addressHi: number; data: number };
  bound: boolean;
}

export class GsiRoutes {
  #nextGsi = IOAPIC_PINS;
  /** GSIs of removed vectors (a hot-unplugged device's), reused before new ones. */
  readonly #freeGsis: number[] = [];
  readonly #vectors: MsiVector[] = [];

  constructor(readonly vm: Vm) {}

  /** Reserves a GSI for one MSI-X vector whose interrupts are written to `irqfd`; returns a change listener. */
  addMsiVector(irqfd: number, label: string): (state: MsixVectorState) => void {
    const v: MsiVector = { gsi: this.#freeGsis.pop() ?? this.#nextGsi++, irqfd, bound: false };
    this.#vectors.push(v);
    return (state) => this.#update(v, state, label);
  }

  /** Drops the vector of `irqfd` (its device was unplugged): unbinds the irqfd, removes its route, frees its GSI. */
  removeMsiVector(irqfd: number): void {
    const i = this.#vectors.findIndex((v) => v.irqfd === irqfd);
    if (i < 0) return;
    const [v] = this.#vectors.splice(i, 1);
    if (v!.bound) this.vm.unregisterIrqfd(v!.irqfd, v!.gsi);
    if (v!.route) this.#apply();
    this.#freeGsis.push(v!.gsi);
  }

  #update(v: MsiVector, state: MsixVectorState, label: string): void {
    const route = { addressLo: state.addressLo, addressHi: state.addressHi, data: state.data };
    const changed =
      !v.route ||
      v.route.addressLo !== route.addressLo ||
      v.route.addressHi !== route.addressHi ||
      v.route.data !== route.data;
    try {
      if (changed) {
        v.route = route;
        this.#apply();
      }
      if (state.masked && v.bound) {
        this.vm.unregisterIrqfd(v.irqfd, v.gsi);
        v.bound = false;
      } else if (!state.masked && !v.bound) {
        this.vm.registerIrqfd(v.irqfd, v.gsi);
        v.bound = true;
      }
    } catch (e) {
      // The guest programmed something KVM refuses; the vector stays silent and the VM goes on.
      new GuestLog(log, label).warn("MSI-X route", `MSI-X route for GSI ${v.gsi}: ${(e as Error).message}`);
    }
  }

  #apply(): void {
    const routes = defaultIrqchipRoutes();
    for (const v of this.#vectors) if (v.route) routes.push({ gsi: v.gsi, type: "msi", ...v.route });
    this.vm.setGsiRouting(routes);
  }
}
