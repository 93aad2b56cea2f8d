// One KVM virtual machine: guest memory slots, the in-kernel interrupt controllers and PIT, irqfds/ioeventfds,
// and vCPU creation. Mirrors crosvm's hypervisor::kvm::KvmVm.
import {
  KVM_CAP_IRQCHIP,
  KVM_CAP_IRQFD,
  KVM_CAP_IOEVENTFD,
  KVM_CAP_PIT2,
  KVM_CAP_USER_MEMORY,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2,
  KVM_CREATE_VCPU,
  KVM_IOEVENTFD,
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOEVENTFD_FLAG_DEASSIGN,
  KVM_IOEVENTFD_FLAG_PIO,
  KVM_IRQ_LINE,
  KVM_IRQFD,
  KVM_IRQFD_FLAG_DEASSIGN,
  KVM_SET_GSI_ROUTING,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SIGNAL_MSI,
} from "../../ffi/kvm.ts";
import {
  encodeIoeventfd,
  encodeIrqfd,
  encodeIrqLevel,
  encodeIrqRouting,
  encodeMsi,
  encodePitConfig,
  encodeUserspaceMemoryRegion,
  type KvmIrqRoute,
  type KvmMsi,
} from "../../ffi/kvm_structs.ts";
import { close, ioctl } from "../../ffi/libc.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { Kvm } from "./kvm.ts";
import { Vcpu } from "./vcpu.ts";

/**
 * The largest memory slot we register: KVM refuses a slot of more than KVM_MEM_MAX_NR_PAGES = 2^31 - 1 pages
 * (include/linux/kvm_host.h) with EINVAL; 4 TiB slots stay below it and keep huge-page alignment.
 */
export const MAX_SLOT_BYTES = 2 ** 42;

/** A region of `size` bytes as memory slots of at most MAX_SLOT_BYTES: each slot's offset and size. */
export function slotPieces(size: number): { offset: number; size: number }[] {
  const out: { offset: number; size: number }[] = [];
  for (let offset = 0; offset < size; offset += MAX_SLOT_BYTES)
    out.push({ offset, size: Math.min(MAX_SLOT_BYTES, size - offset) });
  return out;
}

export interface IoEventAddress {
  /** "pio" for an I/O port, "mmio" for a guest physical address. */
  readonly space: "pio" | "mmio";
  readonly addr: number;
}

export class Vm {
  #nextSlot = 0;
  #closed = false;

  constructor(
    readonly fd: number,
    readonly kvm: Kvm,
  ) {
    kvm.requireExtension(KVM_CAP_USER_MEMORY, "guest memory");
  }

  get #what(): string {
    return `VM fd ${this.fd}`;
  }

  /** KVM_SET_USER_MEMORY_REGION for host memory at `hostAddr`; returns the slot used. */
  addMemoryRegion(guestAddr: number, size: number, hostAddr: number, flags = 0): number {
    const slot = this.#nextSlot++;
    const region = encodeUserspaceMemoryRegion({
      slot,
      flags,
      guestPhysAddr: guestAddr,
      memorySize: size,
      userspaceAddr: hostAddr,
    });
    ioctl(this.fd, KVM_SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION", this.#what);
    return slot;
  }

  /**
   * Registers every region of `memory` (native mappings, e.g. from createGuestRam), a region larger than one
   * memory slot may be as several slots.
   */
  addGuestMemory(memory: GuestMemory): void {
    for (const r of memory.regions)
      for (const s of slotPieces(r.size))
        this.addMemoryRegion(r.guestAddr + s.offset, s.size, r.hostAddr + s.offset);
  }

  /** KVM_SET_TSS_ADDR: three pages of guest physical space KVM uses for real-mode emulation on Intel. */
  setTssAddr(addr: number): void {
    ioctl(this.fd, KVM_SET_TSS_ADDR, addr, "KVM_SET_TSS_ADDR", this.#what);
  }

  /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map of unpaged real mode on Intel. */
  setIdentityMapAddr(addr: number): void {
    const buf = new BigUint64Array([BigInt(addr)]);
    ioctl(this.fd, KVM_SET_IDENTITY_MAP_ADDR, buf, "KVM_SET_IDENTITY_MAP_ADDR", this.#what);
  }

  /** In-kernel PIC, IOAPIC and local APICs (must precede vCPU creation). GSIs 0-15 reach the PICs and IOAPIC, 16-23 the IOAPIC. */
  createIrqchip(): void {
    this.kvm.requireExtension(KVM_CAP_IRQCHIP, "the in-kernel interrupt controllers");
    ioctl(this.fd, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP", this.#what);
  }

  /** In-kernel i8254 PIT at ports 0x40-0x43 (flags: KVM_PIT_SPEAKER_DUMMY also claims port 0x61). */
  createPit2(flags: number): void {
    this.kvm.requireExtension(KVM_CAP_PIT2, "the in-kernel PIT");
    ioctl(this.fd, KVM_CREATE_PIT2, encodePitConfig(flags), "KVM_CREATE_PIT2", this.#what);
  }

  /** KVM_IRQ_LINE: sets the level of an interrupt line of the in-kernel irqchip. */
  setIrqLine(irq: number, level: boolean): void {
    ioctl(this.fd, KVM_IRQ_LINE, encodeIrqLevel(irq, level ? 1 : 0), "KVM_IRQ_LINE", this.#what);
  }

  /** KVM_IRQFD: a write to eventfd `fd` raises `gsi`. */
  registerIrqfd(fd: number, gsi: number): void {
    this.kvm.requireExtension(KVM_CAP_IRQFD, "interrupt eventfds");
    const arg = encodeIrqfd({ fd, gsi, flags: 0, resamplefd: 0 });
    ioctl(this.fd, KVM_IRQFD, arg, "KVM_IRQFD", `${this.#what} (gsi ${gsi})`);
  }

  unregisterIrqfd(fd: number, gsi: number): void {
    const arg = encodeIrqfd({ fd, gsi, flags: KVM_IRQFD_FLAG_DEASSIGN, resamplefd: 0 });
    ioctl(this.fd, KVM_IRQFD, arg, "KVM_IRQFD", `${this.#what} (gsi ${gsi})`);
  }

  /**
   * KVM_IOEVENTFD: a guest write of `len` bytes (0 = any length) at `at` signals eventfd `fd` without exiting to
   * the VMM; with `datamatch` only writes of that value do.
   */
  registerIoevent(fd: number, at: IoEventAddress, len: number, datamatch?: bigint): void {
    this.#ioevent(fd, at, len, datamatch, 0);
  }

  unregisterIoevent(fd: number, at: IoEventAddress, len: number, datamatch?: bigint): void {
    this.#ioevent(fd, at, len, datamatch, KVM_IOEVENTFD_FLAG_DEASSIGN);
  }

  #ioevent(fd: number, at: IoEventAddress, len: number, datamatch: bigint | undefined, extra: number): void {
    this.kvm.requireExtension(KVM_CAP_IOEVENTFD, "ioeventfds");
    let flags = extra;
    if (at.space === "pio") flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (datamatch !== undefined) flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    const arg = encodeIoeventfd({ datamatch: datamatch ?? 0n, addr: at.addr, len, fd, flags });
    ioctl(
      this.fd,
      KVM_IOEVENTFD,
      arg,
      "KVM_IOEVENTFD",
      `${this.#what} (${at.space} 0x${at.addr.toString(16)})`,
    );
  }

  /** KVM_SET_GSI_ROUTING: replaces the whole GSI routing table. */
  setGsiRouting(routes: readonly KvmIrqRoute[]): void {
    ioctl(this.fd, KVM_SET_GSI_ROUTING, encodeIrqRouting(routes), "KVM_SET_GSI_ROUTING", this.#what);
  }

  /** KVM_SIGNAL_MSI: injects one MSI; returns whether it was delivered (0 = blocked by the guest). */
  signalMsi(msi: KvmMsi): boolean {
    return ioctl(this.fd, KVM_SIGNAL_MSI, encodeMsi(msi), "KVM_SIGNAL_MSI", this.#what) > 0;
  }

  /** KVM_CREATE_VCPU with APIC ID `id`. */
  createVcpu(id: number): Vcpu {
    const fd = ioctl(this.fd, KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU", `${this.#what} (vCPU ${id})`);
    return new Vcpu(fd, id, this.kvm.vcpuMmapSize());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd);
  }
}
