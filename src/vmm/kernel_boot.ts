// Direct Linux boot (`crosvm run KERNEL`): the BootLoader over src/arch/x86_64's setupX86Boot. Guest memory gets
// the kernel, initrd, command line, boot_params, MP and ACPI tables and boot page tables; every vCPU gets its CPUID,
// MSRs and LINT0/LINT1 setup; vCPU 0 gets the 64-bit entry state. The other vCPUs wait for INIT/SIPI from Linux.
import { KVM_CAP_TSC_DEADLINE_TIMER } from "../../ffi/kvm.ts";
import { setupX86Boot } from "../arch/x86_64/boot.ts";
import { buildCmdline } from "../arch/x86_64/cmdline.ts";
import { physAddrBits, vcpuCpuid } from "../arch/x86_64/cpuid.ts";
import { withLintConfigured } from "../arch/x86_64/lapic.ts";
import { isMtrrMsr, variableMtrrCount } from "../arch/x86_64/msrs.ts";
import { logger } from "../base/log.ts";
import { withDefaultSerialParameters } from "../devices/serial/parameters.ts";
import type { BootContext, BootLoader, GuestRange } from "./boot_setup.ts";
import type { RegionSpec } from "./guest_ram.ts";

/** IA32_MTRRCAP (Intel SDM Vol. 3A §11.11.2.1): bits 7:0 are the number of variable-range MTRRs. */
const MSR_MTRR_CAP = 0xfe;
const log = logger("vmm::boot");

export class KernelBootLoader implements BootLoader {
  #bootWrites: readonly GuestRange[] = [];

  constructor(readonly kernel: string) {}

  /** The kernel's image and decompression area: Linux decompresses itself there and clears its bss. */
  bootWrites(): readonly GuestRange[] {
    return this.#bootWrites;
  }

  extraRegions(): readonly RegionSpec[] {
    return [];
  }

  load(ctx: BootContext): void {
    const { config, kvm, memory, vcpus } = ctx;
    const supported = kvm.supportedCpuid();
    const bits = physAddrBits(supported);
    const cmdline = buildCmdline({
      serials: withDefaultSerialParameters(config.serials),
      disks: config.disks,
      scsiDisks: config.scsiDisks ?? [],
      pmems: config.pmems,
      params: config.params,
    });
    const boot = setupX86Boot(memory, {
      kernel: this.kernel,
      initrd: config.initrd,
      cmdline,
      cpus: vcpus.length,
      physAddrBits: bits,
      nativePcieHotplug: (config.pciHotplugSlots ?? 0) > 0,
    });
    this.#bootWrites = [boot.kernelRange];
    log.debug(
      `kernel (${boot.kernelType}) entry 0x${boot.entry.toString(16)}, command line "${boot.cmdline}"`,
    );

    // crosvm offers the TSC-deadline timer whenever the in-kernel LAPIC emulates it; Linux then prefers it.
    const tscDeadlineTimer = kvm.checkExtension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
    for (const vcpu of vcpus) {
      vcpu.setCpuid(vcpuCpuid(supported, { vcpuId: vcpu.id, vcpuCount: vcpus.length, tscDeadlineTimer }));
      vcpu.setFpu({ ...vcpu.getFpu(), fcw: boot.fpu.fcw, mxcsr: boot.fpu.mxcsr });
      let msrs = boot.msrs;
      const cap = vcpu.getMsrs([MSR_MTRR_CAP])[0];
      const available = cap ? Number(cap.data & 0xffn) : 0;
      if (variableMtrrCount(msrs) > available) {
        log.warn(`the host offers ${available} variable MTRRs; booting without MTRR setup`);
        msrs = msrs.filter((m) => !isMtrrMsr(m.index));
      }
      vcpu.setMsrs(msrs);
      vcpu.setLapic(withLintConfigured(vcpu.getLapic()));
    }

    const bsp = vcpus[0]!;
    bsp.setRegs(boot.regs);
    bsp.setSregs(boot.sregs(bsp.getSregs()));
  }
}
