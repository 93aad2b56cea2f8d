// `--bios FILE`: a flat firmware image mapped so that it ends at 4 GiB, as on a PC where the reset vector
// 0xFFFFFFF0 lies in the top 16 bytes of the flash. vCPU 0 starts at the reset vector (CS selector 0xF000, base
// 0xFFFF0000, IP 0xFFF0, real mode; Intel SDM Vol. 3A §9.1.4); with the in-kernel local APICs the other vCPUs wait
// for INIT/SIPI from the firmware, as on hardware.
import { readFileSync, statSync } from "node:fs";
import type { KvmCpuidEntry } from "../../ffi/kvm_types.ts";
import { BootError, type BootContext, type BootLoader, type GuestRange } from "./boot_setup.ts";
import type { RegionSpec } from "./guest_ram.ts";

const FOUR_GIB = 0x1_0000_0000;
/** The image must stay above the KVM identity-map/TSS pages at 0xFEFFC000 (crosvm puts them 16 MiB below 4 GiB). */
export const MAX_BIOS_SIZE = 16 * 1024 * 1024;
const PAGE = 0x1000;

/** CPUID leaf 1 EBX[31:24] is the initial APIC ID (Intel SDM Vol. 2A, CPUID). */
function withApicId(entries: readonly KvmCpuidEntry[], apicId: number): KvmCpuidEntry[] {
  return entries.map((e) =>
    e.function === 1 ? { ...e, ebx: ((e.ebx & 0x00ffffff) | (apicId << 24)) >>> 0 } : e,
  );
}

export class BiosLoader implements BootLoader {
  readonly #image: Uint8Array;
  readonly #mappedSize: number;

  constructor(readonly path: string) {
    let size: number;
    try {
      size = statSync(path).size;
    } catch (e) {
      throw new BootError(`--bios ${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    if (size === 0) throw new BootError(`--bios ${path}: the file is empty (expected a flat firmware image)`);
    if (size > MAX_BIOS_SIZE)
      throw new BootError(
        `--bios ${path}: ${size} bytes is too large (expected at most ${MAX_BIOS_SIZE} bytes)`,
      );
    this.#image = new Uint8Array(readFileSync(path));
    this.#mappedSize = Math.ceil(size / PAGE) * PAGE;
  }

  /** Guest-physical address of the image's first byte (the image ends at 4 GiB). */
  get loadAddress(): number {
    return FOUR_GIB - this.#image.length;
  }

  extraRegions(): readonly RegionSpec[] {
    return [{ guestAddr: FOUR_GIB - this.#mappedSize, size: this.#mappedSize }];
  }

  bootWrites(): readonly GuestRange[] {
    return [];
  }

  load(ctx: BootContext): void {
    ctx.memory.write(this.loadAddress, this.#image);
    const cpuid = ctx.kvm.supportedCpuid();
    for (const vcpu of ctx.vcpus) vcpu.setCpuid(withApicId(cpuid, vcpu.id));
    const bsp = ctx.vcpus[0];
    if (!bsp) throw new BootError("no vCPU to boot");
    // KVM creates vCPUs in this state already; setting it makes the contract explicit.
    const sregs = bsp.getSregs();
    sregs.cs = { ...sregs.cs, selector: 0xf000, base: 0xffff0000n };
    bsp.setSregs(sregs);
    bsp.setRegs({ ...bsp.getRegs(), rip: 0xfff0n, rflags: 0x2n });
  }
}
