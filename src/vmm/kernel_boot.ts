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

const MIB = 1024 * 1024;
/** The loader's tables below 1 MiB: boot GDT, zero page, page tables, command line, MP and ACPI tables (layout.ts). */
const LOW_TABLES_END = 1 * MIB;
/**
 * Linux x86-64's MAX_DMA_ADDRESS (arch/x86/include/asm/dma.h, 16 MiB): where ZONE_DMA32 starts, the lowest page
 * that a GFP_KERNEL allocation gets on a guest with no RAM above 4 GiB.
 */
const LINUX_DMA32_START = 16 * MIB;
/** Linux's ZONE_NORMAL starts at 4 GiB: with RAM above it, GFP_KERNEL allocations come from there first. */
const LINUX_NORMAL_START = 4 * 1024 * MIB;
/** struct page is 64 bytes per 4 KiB page on x86-64 (include/linux/mm_types.h): the memmap is RAM / 64. */
const MEMMAP_FRACTION = 64;
/** Early allocations besides the memmap (direct-map page tables, per-CPU areas, log buffer, ACPI copies). */
const OTHER_EARLY_ALLOCATIONS = 8 * MIB;

/** What a Linux direct boot writes into guest RAM: the loaded images and the RAM they sit in. */
export interface LinuxBootImages {
  /** Guest RAM, guest-physical [start, end) per region, any order. */
  readonly ram: readonly GuestRange[];
  /** The bzImage's load address to the end of its decompression area (pref_address + init_size). */
  readonly kernel: GuestRange;
  readonly initrd?: { readonly addr: number; readonly size: number };
}

/**
 * Guest-physical ranges a Linux guest writes early in every boot, most certain first (BootLoader.bootWrites):
 * the loader's low tables, the kernel's decompression area, the initrd; then where Linux's allocators take memory
 * first. memblock allocates top-down (mm/memblock.c, x86-64's default), so the memmap and the other early
 * allocations sit just below the top of RAM, or below an initrd at the top (memblock reserves it); the buddy
 * allocator, once memblock hands it the free memory in ascending order to the tail of its free lists
 * (mm/page_alloc.c __free_pages_core, FPI_TO_TAIL), gives out the lowest free pages first, from ZONE_DMA32's start
 * upward, or from ZONE_NORMAL's (4 GiB) with RAM there (the decompression area is free again by then; the
 * KASLR-placed kernel image, which no host can predict, is passed over). The last
 * range runs to the top of RAM: the collapser's budget cuts it (ram_collapse.ts aheadOffsets).
 */
export function linuxBootWrites(images: LinuxBootImages): GuestRange[] {
  const ram = [...images.ram].sort((a, b) => a.start - b.start);
  const ramTop = ram.at(-1)?.end ?? 0;
  const ramBytes = ram.reduce((n, r) => n + (r.end - r.start), 0);
  const writes: GuestRange[] = [{ start: 0, end: LOW_TABLES_END }, images.kernel];
  let below = ramTop;
  if (images.initrd) {
    const initrd = { start: images.initrd.addr, end: images.initrd.addr + images.initrd.size };
    writes.push(initrd);
    // memblock's top-down allocations go below an initrd that ends in RAM's last 2 MiB.
    if (initrd.end + 2 * MIB >= ramTop) below = initrd.start;
  }
  const early = Math.ceil(ramBytes / MEMMAP_FRACTION) + OTHER_EARLY_ALLOCATIONS;
  writes.push({ start: Math.max(0, below - early), end: below });
  const allocFrom = ram.find((r) => r.start >= LINUX_NORMAL_START)?.start ?? LINUX_DMA32_START;
  writes.push({ start: allocFrom, end: ramTop });
  return writes;
}

export class KernelBootLoader implements BootLoader {
  #bootWrites: readonly GuestRange[] = [];

  constructor(readonly kernel: string) {}

  /** Where a Linux boot writes first, most certain first (linuxBootWrites). */
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
    this.#bootWrites = linuxBootWrites({
      ram: memory.regions.map((r) => ({ start: r.guestAddr, end: r.guestAddr + r.size })),
      kernel: boot.kernelRange,
      ...(boot.initrd ? { initrd: boot.initrd } : {}),
    });
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
