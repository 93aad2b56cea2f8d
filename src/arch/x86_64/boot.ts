// Direct Linux boot on x86-64: loads the kernel (and initrd), writes the command line, setup_data, boot_params,
// MP table, ACPI tables, GDT/IDT and page tables into guest memory, and returns the vCPU state the VMM applies.
// The sequence is crosvm's X8664arch::build_vm + setup_system_memory (x86_64/src/lib.rs). No KVM calls happen here.
//
// What the VMM does with the result (crosvm build_vm and configure_vcpu order):
//   VM:   KVM_SET_IDENTITY_MAP_ADDR(identityMapAddr), KVM_SET_TSS_ADDR(tssAddr), KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2,
//         memory slots for guestRamRegions(memBytes); then setupX86Boot(mem, ...).
//   each vCPU i: KVM_SET_CPUID2(vcpuCpuid(KVM_GET_SUPPORTED_CPUID, {vcpuId: i, vcpuCount})),
//         vCPU 0 only: KVM_SET_REGS(regs), KVM_SET_SREGS(sregs(KVM_GET_SREGS())), then for every vCPU:
//         KVM_SET_FPU(fpu), KVM_SET_MSRS(msrs; without the MTRR ones if MTRRcap's VCNT is too small),
//         KVM_SET_LAPIC(withLintConfigured(KVM_GET_LAPIC())). The other vCPUs keep KVM's reset state and wait
//         for INIT/SIPI from the boot vCPU.
import type { KvmMsrEntry, KvmRegs, KvmSregs } from "../../../ffi/kvm_types.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { type AcpiTableAddrs, writeAcpiTables } from "./acpi/tables.ts";
import { fillBootParams, writeBootParams } from "./boot_params.ts";
import { alignUp } from "./bytes.ts";
import { Cmdline } from "./cmdline.ts";
import { bootCpuState, writeBootCpuTables } from "./cpu_state.ts";
import { e820Map } from "./e820.ts";
import { type ImageSource, imageFromBytes, imageFromFile } from "./image_source.ts";
import { type KernelType, type LoadedInitrd, loadInitrd, loadKernel } from "./kernel_loader.ts";
import { CMDLINE_ADDR, IDENTITY_MAP_ADDR, PAGE_SIZE, TSS_ADDR, guestRamRegions } from "./layout.ts";
import { bootMsrs } from "./msrs.ts";
import { type PciIrq, writeMpTable } from "./mptable.ts";
import { rngSeedSetupData, writeSetupData } from "./setup_data.ts";

export interface X86BootOptions {
  /** bzImage or ELF vmlinux: a file path, or the image bytes. */
  readonly kernel: string | Uint8Array;
  readonly initrd?: string | Uint8Array;
  /** The full command line (see cmdline.ts buildCmdline). */
  readonly cmdline: Cmdline | string;
  readonly cpus: number;
  /** Guest physical address width, from `physAddrBits(KVM_GET_SUPPORTED_CPUID)` (cpuid.ts). */
  readonly physAddrBits: number;
  /** PCI INTx routes for the MP table, MADT and _PRT (none until PCI devices use INTx). */
  readonly pciIrqs?: readonly PciIrq[];
  /** ACPI SCI line (default SCI_IRQ = 5) and ACPI PM I/O base (default ACPI_PM_IO_BASE = 0x600). */
  readonly sciIrq?: number;
  readonly pmIoBase?: number;
  /** More DSDT AML from devices. */
  readonly extraDsdtAml?: readonly Uint8Array[];
  /** The VM has PCIe hot-plug root ports (the host bridge's _OSC grants native control). */
  readonly nativePcieHotplug?: boolean;
  /** Pass a SETUP_RNG_SEED (default true, as crosvm). */
  readonly rngSeed?: boolean;
}

export interface X86Boot {
  readonly kernelType: KernelType;
  /** Guest address of the kernel's 64-bit entry point. */
  readonly entry: number;
  readonly cmdline: string;
  readonly initrd?: LoadedInitrd;
  /** [start, end): guest memory the kernel image occupies or decompresses into (LoadedKernel's). */
  readonly kernelRange: { readonly start: number; readonly end: number };
  readonly acpi: AcpiTableAddrs;
  /** For KVM_SET_IDENTITY_MAP_ADDR and KVM_SET_TSS_ADDR, before any vCPU is created. */
  readonly identityMapAddr: number;
  readonly tssAddr: number;
  /** Boot vCPU (vCPU 0) general registers for KVM_SET_REGS. */
  readonly regs: KvmRegs;
  /** Boot vCPU special registers: pass KVM_GET_SREGS's result, give the return value to KVM_SET_SREGS. */
  sregs(current: KvmSregs): KvmSregs;
  /** Boot vCPU FPU: fcw and mxcsr for KVM_SET_FPU (everything else zero). */
  readonly fpu: { readonly fcw: number; readonly mxcsr: number };
  /** MSRs for every vCPU (KVM_SET_MSRS); drop the MTRR ones if MTRRcap has too few variable ranges (msrs.ts). */
  readonly msrs: readonly KvmMsrEntry[];
}

export class X86BootError extends Error {
  override name = "X86BootError";
}

function openImage(source: string | Uint8Array, kind: string): ImageSource {
  return typeof source === "string" ? imageFromFile(source, kind) : imageFromBytes("(in memory)", source);
}

function withImage<T>(source: string | Uint8Array, label: string, use: (image: ImageSource) => T): T {
  const image = openImage(source, label);
  try {
    return use(image);
  } finally {
    image.close();
  }
}

/** Checks that `mem` was built from guestRamRegions(mem.size), which the e820 map describes. */
function checkLayout(mem: GuestMemory): void {
  const want = guestRamRegions(mem.size);
  const have = mem.regions;
  const same =
    want.length === have.length &&
    want.every((w, i) => have[i]?.guestAddr === w.guestAddr && have[i]?.size === w.size);
  if (!same) {
    const show = (rs: readonly { guestAddr: number; size: number }[]) =>
      rs.map((r) => `0x${r.guestAddr.toString(16)}+0x${r.size.toString(16)}`).join(", ");
    throw new X86BootError(`guest memory [${show(have)}] does not follow the x86-64 layout [${show(want)}]`);
  }
}

/** Prepares guest memory for a direct kernel boot and returns the vCPU state to apply. */
export function setupX86Boot(mem: GuestMemory, opts: X86BootOptions): X86Boot {
  checkLayout(mem);
  const kernel = withImage(opts.kernel, "kernel image", (image) => loadKernel(mem, image));

  const cmdline = typeof opts.cmdline === "string" ? new Cmdline().insertStr(opts.cmdline) : opts.cmdline;
  mem.write(CMDLINE_ADDR, cmdline.toBytes(kernel.cmdlineMax));

  const initrd =
    opts.initrd === undefined
      ? undefined
      : withImage(opts.initrd, "initrd", (image) =>
          loadInitrd(mem, image, alignUp(kernel.end, PAGE_SIZE), kernel.initrdAddrMax),
        );

  const setupData = writeSetupData(mem, (opts.rngSeed ?? true) ? [rngSeedSetupData()] : []);
  const params = kernel.params.slice();
  fillBootParams(params, { cmdlineAddr: CMDLINE_ADDR, initrd, setupData, e820: e820Map(mem.size) });
  writeBootParams(mem, params);

  writeMpTable(mem, { cpus: opts.cpus, pciIrqs: opts.pciIrqs, sciIrq: opts.sciIrq });
  const acpi = writeAcpiTables(mem, {
    cpus: opts.cpus,
    memBytes: mem.size,
    physAddrBits: opts.physAddrBits,
    sciIrq: opts.sciIrq,
    pmIoBase: opts.pmIoBase,
    pciIrqs: opts.pciIrqs,
    extraDsdtAml: opts.extraDsdtAml,
    nativePcieHotplug: opts.nativePcieHotplug,
  });

  const cpu = bootCpuState(kernel.entry, writeBootCpuTables(mem));
  return {
    kernelType: kernel.type,
    entry: kernel.entry,
    kernelRange: { start: kernel.start, end: kernel.end },
    cmdline: cmdline.toString(),
    initrd,
    acpi,
    identityMapAddr: IDENTITY_MAP_ADDR,
    tssAddr: TSS_ADDR,
    regs: cpu.regs,
    sregs: cpu.sregs,
    fpu: cpu.fpu,
    msrs: bootMsrs(opts.physAddrBits),
  };
}
