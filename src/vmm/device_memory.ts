// Guest physical memory that devices bring (virtio-pmem's file): each request of a device kind
// (PreparedDevice.guestMapping) becomes a host mapping of its file, padded with anonymous memory to its size, and
// its own KVM memory slot (KVM_MEM_READONLY for a read-only device: a guest write exits to the VMM, which drops it
// as an unmapped MMIO write). Placement follows crosvm's create_pmem_device: in the high (>4G) MMIO allocation
// area of the memory map (spec "Memory Layout": after the end of RAM and the PCI configuration window), aligned to
// 128 MiB, the section size Linux's ZONE_DEVICE mapping of a pmem region needs. crosvm takes it top-down from the
// end of that area; we take it from its start, before the 64-bit BARs: a Linux 6.1 guest with KASLR maps
// hot-added memory only within its direct map (RAM plus CONFIG_RANDOMIZE_MEMORY_PHYSICAL_PADDING, 10 TiB), which
// the top of a 46-bit space is not.
import { KVM_CAP_READONLY_MEM, KVM_MEM_READONLY } from "../../ffi/kvm.ts";
import {
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  mmap,
  mmapFixed,
  munmap,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../ffi/libc.ts";
import { alignUp } from "../arch/x86_64/bytes.ts";
import { MIB, PAGE_SIZE } from "../arch/x86_64/layout.ts";
import { logger } from "../base/log.ts";
import type { GuestMapping, GuestMappingRequest } from "../devices/virtio/kind.ts";
import { slotPieces } from "../hypervisor/vm.ts";

const log = logger("vmm::device_memory");

/** Linux's memory section size on x86-64 (SECTION_SIZE_BITS 27): pmem regions start on one (crosvm: 128 MiB). */
export const DEVICE_MEMORY_ALIGN = 128 * MIB;

/** What the area needs of the VM: memory slots (hypervisor/vm.ts Vm). */
export interface MemorySlots {
  addMemoryRegion(guestAddr: number, size: number, hostAddr: number, flags?: number): number;
  readonly kvm: { checkExtension(cap: number): number };
}

export class DeviceMemoryError extends Error {
  override name = "DeviceMemoryError";
}

interface HostMapping {
  readonly hostAddr: number;
  readonly size: number;
}

export class DeviceMemoryArea {
  #next: number;
  readonly #mappings: HostMapping[] = [];

  /** Places mappings in [start, end) of guest physical memory. */
  constructor(
    readonly vm: MemorySlots,
    readonly start: number,
    readonly end: number,
  ) {
    this.#next = alignUp(start, DEVICE_MEMORY_ALIGN);
  }

  /** One past the last guest physical byte placed so far (`start` when nothing is). */
  get used(): number {
    return this.#mappings.length === 0 ? this.start : this.#next;
  }

  /** Maps `req` into the guest; `label` names the device in errors. */
  map(req: GuestMappingRequest, label: string): GuestMapping {
    if (
      !Number.isSafeInteger(req.fileBytes) ||
      req.fileBytes <= 0 ||
      !Number.isSafeInteger(req.size) ||
      req.size < req.fileBytes ||
      req.size % PAGE_SIZE !== 0
    )
      throw new DeviceMemoryError(`${label}: bad guest mapping of ${req.fileBytes} bytes in ${req.size}`);
    const start = alignUp(this.#next, DEVICE_MEMORY_ALIGN);
    if (start + req.size > this.end)
      throw new DeviceMemoryError(
        `${label}: ${req.size} bytes do not fit in guest physical memory ` +
          `(the device area is [0x${this.start.toString(16)}, 0x${this.end.toString(16)}))`,
      );
    if (req.readOnly && this.vm.kvm.checkExtension(KVM_CAP_READONLY_MEM) <= 0)
      throw new DeviceMemoryError(`${label}: /dev/kvm has no read-only memory slots (KVM_CAP_READONLY_MEM)`);
    const hostAddr = this.#mapHost(req, label);
    try {
      for (const s of slotPieces(req.size))
        this.vm.addMemoryRegion(
          start + s.offset,
          s.size,
          hostAddr + s.offset,
          req.readOnly ? KVM_MEM_READONLY : 0,
        );
    } catch (e) {
      munmap(hostAddr, req.size, label);
      throw e;
    }
    this.#mappings.push({ hostAddr, size: req.size });
    this.#next = start + req.size;
    log.debug(
      `${label}: ${req.size} bytes at guest 0x${start.toString(16)}${req.readOnly ? " (read-only)" : ""}`,
    );
    return { start, size: req.size };
  }

  /** The host side: the file's pages MAP_SHARED, then anonymous padding, in one reserved range. */
  #mapHost(req: GuestMappingRequest, label: string): number {
    const prot = req.readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    const hostAddr = mmap(req.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0, label);
    try {
      const fileLen = Math.min(alignUp(req.fileBytes, PAGE_SIZE), req.size);
      mmapFixed(hostAddr, fileLen, prot, MAP_SHARED, req.fd, 0, label);
      if (fileLen < req.size)
        mmapFixed(
          hostAddr + fileLen,
          req.size - fileLen,
          prot,
          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
          -1,
          0,
          `${label} (padding)`,
        );
      return hostAddr;
    } catch (e) {
      munmap(hostAddr, req.size, label);
      throw e;
    }
  }

  /** The host address of mapping `index` (tests read the guest's view through it). */
  hostAddress(index: number): number {
    const m = this.#mappings[index];
    if (!m) throw new RangeError(`no device mapping ${index}`);
    return m.hostAddr;
  }

  /** Unmaps every mapping (after the vCPUs have stopped; the VM's slots go with the VM). */
  close(): void {
    for (const m of this.#mappings.splice(0)) munmap(m.hostAddr, m.size, "device memory");
  }
}
