// How the VM gets its first instructions. A BootLoader is chosen from the VmConfig (`--bios FILE` here; the
// Linux kernel loader of src/arch/x86_64 plugs in through the same interface) and runs on the main thread after
// guest memory and the vCPUs exist, before any vCPU starts.
import type { Kvm } from "../hypervisor/kvm.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";
import type { Vm } from "../hypervisor/vm.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import type { VmConfig } from "./config.ts";
import type { RegionSpec } from "./guest_ram.ts";

export interface BootContext {
  readonly config: VmConfig;
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly memory: GuestMemory;
  /** vCPU i has APIC ID i; vCPU 0 is the bootstrap processor. */
  readonly vcpus: readonly Vcpu[];
}

export interface BootLoader {
  /** Guest-physical regions to back with memory besides RAM (e.g. the firmware image just below 4 GiB). */
  extraRegions(): readonly RegionSpec[];
  /**
   * Writes the images into guest memory and sets each vCPU's starting state (registers, CPUID, MSRs, MP state).
   * Throws an Error with a one-line message naming the input on bad input.
   */
  load(ctx: BootContext): void;
  /**
   * After load: guest-physical ranges [start, end) the guest writes early in every boot (a kernel's decompression
   * area), which the RAM collapser makes huge before the guest gets there (ram_collapse.ts). Empty for firmware.
   */
  bootWrites(): readonly GuestRange[];
}

export interface GuestRange {
  readonly start: number;
  readonly end: number;
}

export class BootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootError";
  }
}
