// Per-vCPU CPUID from KVM_GET_SUPPORTED_CPUID, adjusted as crosvm x86_64/src/cpuid.rs adjust_cpuid does for a
// VM without host CPU topology, hybrid types, HWP or a calibrated TSC leaf: hypervisor bit, APIC IDs, topology
// (leaf 1 EBX, leaf 4 EAX[31:26], leaves 0xB/0x1F), x2APIC/TSC-deadline bits from the irqchip, nested
// virtualization hidden. Leaves 2, 4 and 0x80000002..6 keep the host values KVM already copied into its list;
// the KVM signature leaf 0x40000000 ("KVMKVMKVM\0\0\0") is passed through untouched.
import type { KvmCpuidEntry } from "../../../ffi/kvm_types.ts";

/** Bit positions (Intel SDM Vol. 2A CPUID; AMD APM Vol. 3 Appendix E). */
export const LEAF1_ECX_VMX = 5;
export const LEAF1_ECX_X2APIC = 21;
export const LEAF1_ECX_TSC_DEADLINE = 24;
export const LEAF1_ECX_HYPERVISOR = 31;
export const LEAF1_EDX_HTT = 28;
export const LEAF1_EBX_CLFLUSH_SHIFT = 8;
export const LEAF1_EBX_COUNT_SHIFT = 16;
export const LEAF1_EBX_APIC_ID_SHIFT = 24;
/** CLFLUSH line size in 8-byte units: 8 = 64 bytes. */
export const CLFLUSH_LINE_8B = 8;
export const LEAF4_EAX_CORES_SHIFT = 26;
export const TOPO_LEVEL_TYPE_SHIFT = 8;
export const TOPO_LEVEL_SMT = 1;
export const TOPO_LEVEL_CORE = 2;
export const EXT1_ECX_SVM = 2;

export interface CpuidOptions {
  /** Index of this vCPU; it is also its APIC ID. */
  readonly vcpuId: number;
  readonly vcpuCount: number;
  /** The irqchip's APICs support x2APIC (KVM's in-kernel LAPIC does). Default true. */
  readonly x2apic?: boolean;
  /** The irqchip supports the TSC-deadline timer (KVM_CHECK_EXTENSION(KVM_CAP_TSC_DEADLINE_TIMER)). Default false. */
  readonly tscDeadlineTimer?: boolean;
  /** Show every vCPU as its own core instead of pairing even counts into hyperthreads (crosvm --no-smt). */
  readonly noSmt?: boolean;
  /** Keep VMX/SVM visible to the guest. Default false (crosvm's nested mode off). */
  readonly nested?: boolean;
}

const setBit = (v: number, bit: number, on: boolean) => (on ? v | (1 << bit) : v & ~(1 << bit)) >>> 0;

/** Number of bits needed for an ID below `n` (32 - leading zeros of n-1; 0 for n = 1). */
function idBits(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** The CPUID entries for one vCPU, for KVM_SET_CPUID2. `supported` is not modified. */
export function vcpuCpuid(supported: readonly KvmCpuidEntry[], opts: CpuidOptions): KvmCpuidEntry[] {
  const { vcpuId, vcpuCount } = opts;
  if (!Number.isInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > 255) {
    throw new RangeError(`vCPU count ${vcpuCount} is out of range (1..255)`);
  }
  if (!Number.isInteger(vcpuId) || vcpuId < 0 || vcpuId >= vcpuCount) {
    throw new RangeError(`vCPU id ${vcpuId} is out of range for ${vcpuCount} vCPUs`);
  }
  const x2apic = opts.x2apic ?? true;
  const nested = opts.nested ?? false;
  const noSmt = opts.noSmt ?? false;
  return supported.map((src) => {
    const e = { ...src };
    switch (e.function) {
      case 1: {
        if (e.index === 0) e.ecx = setBit(e.ecx, LEAF1_ECX_HYPERVISOR, true);
        e.ecx = setBit(e.ecx, LEAF1_ECX_X2APIC, x2apic);
        if (opts.tscDeadlineTimer) e.ecx = setBit(e.ecx, LEAF1_ECX_TSC_DEADLINE, true);
        if (!nested) e.ecx = setBit(e.ecx, LEAF1_ECX_VMX, false);
        e.ebx = ((vcpuId << LEAF1_EBX_APIC_ID_SHIFT) | (CLFLUSH_LINE_8B << LEAF1_EBX_CLFLUSH_SHIFT)) >>> 0;
        if (vcpuCount > 1) {
          // The logical-processor count is valid only with HTT set (SDM Vol. 2A, CPUID leaf 01H EBX[23:16]).
          e.ebx = (e.ebx | (vcpuCount << LEAF1_EBX_COUNT_SHIFT)) >>> 0;
          e.edx = setBit(e.edx, LEAF1_EDX_HTT, true);
        }
        break;
      }
      case 4: {
        // EAX[31:26]: addressable core IDs in the package, minus one.
        e.eax = (e.eax & ~0xfc00_0000) >>> 0;
        if (vcpuCount > 1) {
          const cores = noSmt ? vcpuCount : vcpuCount % 2 === 0 ? vcpuCount / 2 : 1;
          e.eax = (e.eax | ((cores - 1) << LEAF4_EAX_CORES_SHIFT)) >>> 0;
        }
        break;
      }
      case 0xb:
      case 0x1f: {
        e.edx = vcpuId; // x2APIC ID
        if (e.index === 0) {
          if (noSmt || vcpuCount === 1) {
            e.eax = 0;
            e.ebx = 1;
          } else if (vcpuCount % 2 === 0) {
            e.eax = 1;
            e.ebx = 2;
          } else {
            e.eax = idBits(vcpuCount);
            e.ebx = vcpuCount;
          }
          e.ecx = (TOPO_LEVEL_SMT << TOPO_LEVEL_TYPE_SHIFT) | e.index;
        } else if (e.index === 1) {
          e.eax = idBits(vcpuCount);
          e.ebx = vcpuCount & 0xffff;
          e.ecx = (TOPO_LEVEL_CORE << TOPO_LEVEL_TYPE_SHIFT) | e.index;
        } else {
          e.eax = 0;
          e.ebx = 0;
          e.ecx = 0;
        }
        break;
      }
      case 0x8000_0001: {
        if (!nested) e.ecx = setBit(e.ecx, EXT1_ECX_SVM, false);
        break;
      }
    }
    return e;
  });
}

/** Guest physical address width from leaf 0x80000008 EAX[7:0] (SDM Vol. 2A), or 36 when the leaf is missing. */
export function physAddrBits(entries: readonly KvmCpuidEntry[]): number {
  const leaf = entries.find((e) => e.function === 0x8000_0008);
  return leaf ? leaf.eax & 0xff : 36;
}
