// Loads a Linux kernel into guest memory for the 64-bit boot protocol: a bzImage (Documentation/arch/x86/boot.rst)
// or an ELF64 vmlinux (crosvm kernel_loader/src/lib.rs load_elf), and places an initrd high in RAM
// (crosvm arch/src/lib.rs load_image_high). The caller builds boot_params from the returned setup header.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  BOOT_PARAMS_SIZE,
  DEFAULT_CMDLINE_SIZE,
  DEFAULT_INITRD_ADDR_MAX,
  HDR,
  HDRS_MAGIC,
  KERNEL_ALIGNMENT,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
  emptyBootParams,
} from "./boot_params.ts";
import { LeBytes, alignDown, alignUp } from "./bytes.ts";
import type { ImageSource } from "./image_source.ts";
import { CMDLINE_MAX_SIZE, KERNEL_64BIT_ENTRY_OFFSET, KERNEL_START, MIB, PAGE_SIZE } from "./layout.ts";

export type KernelType = "bzImage" | "ELF";

export interface LoadedKernel {
  readonly type: KernelType;
  /** Guest physical address of the 64-bit entry point (the boot vCPU's RIP). */
  readonly entry: number;
  /** [start, end): memory the kernel image occupies or decompresses into; an initrd must lie above it. */
  readonly start: number;
  readonly end: number;
  /** A boot_params holding the kernel's setup header (bzImage) or an empty one (ELF). */
  readonly params: Uint8Array;
  /** Longest command line the kernel accepts, without the NUL. */
  readonly cmdlineMax: number;
  /** Highest address the initrd's last byte may have. */
  readonly initrdAddrMax: number;
}

export class KernelLoadError extends Error {
  override name = "KernelLoadError";
  constructor(image: string, what: string) {
    super(`kernel image ${image}: ${what}`);
  }
}

export class InitrdLoadError extends Error {
  override name = "InitrdLoadError";
  constructor(image: string, what: string) {
    super(`initrd ${image}: ${what}`);
  }
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
/** The bzImage's protocol version must be at least 2.12 for xloadflags (and so XLF_KERNEL_64) to exist. */
const MIN_BZIMAGE_VERSION = 0x020c;

const hex = (n: number) => `0x${n.toString(16)}`;
const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;

/** Loads a bzImage or ELF64 kernel, telling them apart by the ELF magic as crosvm does. */
export function loadKernel(mem: GuestMemory, image: ImageSource): LoadedKernel {
  if (image.size < 4)
    throw new KernelLoadError(image.name, `not a bzImage or ELF kernel (only ${image.size} bytes)`);
  const magic = new Uint8Array(4);
  image.read(0, magic);
  if (magic.every((b, i) => b === ELF_MAGIC[i])) return loadElf(mem, image);
  return loadBzImage(mem, image);
}

/** Reads `length` bytes at `offset`, turning a short image into a "truncated" KernelLoadError. */
function readExact(image: ImageSource, offset: number, length: number, what: string): Uint8Array {
  if (offset + length > image.size) {
    throw new KernelLoadError(
      image.name,
      `truncated: ${what} needs bytes ${hex(offset)}..${hex(offset + length)}, the file has ${hex(image.size)}`,
    );
  }
  const out = new Uint8Array(length);
  image.read(offset, out);
  return out;
}

/** Copies image[offset, offset+length) to guest `addr`, straight into guest memory. */
function copyToGuest(
  mem: GuestMemory,
  image: ImageSource,
  offset: number,
  addr: number,
  length: number,
): void {
  if (length === 0) return;
  image.read(offset, mem.slice(addr, length));
}

/** Loads a bzImage: the protected-mode kernel goes to KERNEL_START, its entry is KERNEL_START + 0x200. */
export function loadBzImage(mem: GuestMemory, image: ImageSource): LoadedKernel {
  const name = image.name;
  if (image.size < HDR.header + 4) {
    throw new KernelLoadError(name, `not a bzImage or ELF kernel (only ${image.size} bytes)`);
  }
  const magic = new LeBytes(readExact(image, HDR.header, 4, "the header signature")).u32(0);
  if (magic !== HDRS_MAGIC) {
    throw new KernelLoadError(
      name,
      `not a bzImage or ELF kernel (no ELF magic, no "HdrS" at ${hex(HDR.header)})`,
    );
  }
  // boot.rst: "the end of setup header can be calculated as follows: 0x0202 + byte value at offset 0x0201".
  const headerEnd = 0x202 + readExact(image, 0x201, 1, "the setup header length")[0]!;
  if (headerEnd > BOOT_PARAMS_SIZE) {
    throw new KernelLoadError(name, `setup header ends at ${hex(headerEnd)}, past the 4096-byte boot_params`);
  }
  const params = new Uint8Array(BOOT_PARAMS_SIZE);
  params.set(
    readExact(image, HDR.setup_sects, headerEnd - HDR.setup_sects, "the setup header"),
    HDR.setup_sects,
  );
  const hdr = new LeBytes(params);
  // Fields past the kernel's header end read as zero, which is what boot.rst says older protocols imply.
  const version = hdr.u16(HDR.version);
  const versionText = `${version >> 8}.${(version & 0xff).toString().padStart(2, "0")}`;
  if (version < MIN_BZIMAGE_VERSION || (hdr.u16(HDR.xloadflags) & XLF_KERNEL_64) === 0) {
    throw new KernelLoadError(
      name,
      `bzImage (boot protocol ${versionText}) has no 64-bit entry point (needs protocol 2.12+ with XLF_KERNEL_64)`,
    );
  }
  const setupSects = hdr.u8(HDR.setup_sects) || 4;
  const setupSize = (setupSects + 1) * 512;
  const sysSize = hdr.u32(HDR.syssize) * 16;
  if (setupSize + sysSize > image.size) {
    throw new KernelLoadError(
      name,
      `truncated: setup_sects and syssize say ${setupSize + sysSize} bytes, the file has ${image.size}`,
    );
  }
  const payloadSize = image.size - setupSize;
  if (!mem.isValidRange(KERNEL_START, payloadSize)) {
    throw new KernelLoadError(
      name,
      `kernel (${mib(payloadSize)}) does not fit in guest RAM at ${hex(KERNEL_START)}`,
    );
  }
  copyToGuest(mem, image, setupSize, KERNEL_START, payloadSize);

  // The decompressor runs in [output, output + init_size): a relocatable kernel aligns its load address up to
  // kernel_alignment (we write crosvm's 16 MiB there) but never below pref_address (LOAD_PHYSICAL_ADDR);
  // a fixed kernel always uses pref_address (arch/x86/boot/compressed/head_64.S).
  const pref = Number(hdr.u64(HDR.pref_address)) || KERNEL_START;
  const relocatable = hdr.u8(HDR.relocatable_kernel) !== 0;
  const output = relocatable ? Math.max(alignUp(KERNEL_START, KERNEL_ALIGNMENT), pref) : pref;
  const initSize = hdr.u32(HDR.init_size);
  const end = Math.max(KERNEL_START + payloadSize, initSize > 0 ? output + initSize : 0);

  const xloadflags = hdr.u16(HDR.xloadflags);
  const headerInitrdMax = hdr.u32(HDR.initrd_addr_max);
  return {
    type: "bzImage",
    entry: KERNEL_START + KERNEL_64BIT_ENTRY_OFFSET,
    start: KERNEL_START,
    end,
    params,
    cmdlineMax: Math.min(hdr.u32(HDR.cmdline_size) || DEFAULT_CMDLINE_SIZE, CMDLINE_MAX_SIZE - 1),
    initrdAddrMax:
      (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0
        ? Number.MAX_SAFE_INTEGER
        : headerInitrdMax || DEFAULT_INITRD_ADDR_MAX,
  };
}

// ELF64 header and program header offsets (System V ABI, "ELF Header" and "Program Header"; linux/elf.h).
const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const EM_X86_64 = 62;
const EHDR_SIZE = 64;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 32;
const E_PHENTSIZE = 54;
const E_PHNUM = 56;
const PHDR_SIZE = 56;
const PT_LOAD = 1;

function safeNumber(image: string, value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new KernelLoadError(image, `${what} ${value} is out of range`);
  return Number(value);
}

/** Loads an ELF64 x86-64 vmlinux: every PT_LOAD segment at its p_paddr, entry = e_entry (a physical address). */
export function loadElf(mem: GuestMemory, image: ImageSource): LoadedKernel {
  const name = image.name;
  const eh = new LeBytes(readExact(image, 0, EHDR_SIZE, "the ELF header"));
  if (eh.u8(EI_CLASS) !== ELFCLASS64)
    throw new KernelLoadError(name, "ELF kernel is not 64-bit (ELFCLASS64)");
  if (eh.u8(EI_DATA) !== ELFDATA2LSB) throw new KernelLoadError(name, "ELF kernel is not little-endian");
  if (eh.u8(EI_VERSION) !== EV_CURRENT)
    throw new KernelLoadError(name, "ELF kernel has an unknown ELF version");
  if (eh.u16(E_MACHINE) !== EM_X86_64) {
    throw new KernelLoadError(name, `ELF kernel is for machine ${eh.u16(E_MACHINE)}, not x86-64 (62)`);
  }
  const phentsize = eh.u16(E_PHENTSIZE);
  const phnum = eh.u16(E_PHNUM);
  if (phentsize < PHDR_SIZE)
    throw new KernelLoadError(name, `ELF program header size ${phentsize} is too small`);
  const phoff = safeNumber(name, eh.u64(E_PHOFF), "program header offset");
  const table = readExact(image, phoff, phentsize * phnum, "the program header table");

  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = new LeBytes(table.subarray(i * phentsize, (i + 1) * phentsize));
    if (ph.u32(0) !== PT_LOAD) continue;
    const offset = safeNumber(name, ph.u64(8), "segment offset");
    const paddr = safeNumber(name, ph.u64(24), "segment address");
    const filesz = safeNumber(name, ph.u64(32), "segment file size");
    const memsz = safeNumber(name, ph.u64(40), "segment memory size");
    if (paddr < KERNEL_START) {
      throw new KernelLoadError(
        name,
        `segment ${i} at ${hex(paddr)} is below the kernel start ${hex(KERNEL_START)}`,
      );
    }
    if (filesz > memsz) throw new KernelLoadError(name, `segment ${i} has p_filesz > p_memsz`);
    if (offset + filesz > image.size) {
      throw new KernelLoadError(name, `truncated: segment ${i} needs bytes up to ${hex(offset + filesz)}`);
    }
    if (!mem.isValidRange(paddr, memsz)) {
      throw new KernelLoadError(
        name,
        `segment ${i} (${hex(paddr)}+${mib(memsz)}) does not fit in guest RAM (kernel larger than RAM?)`,
      );
    }
    copyToGuest(mem, image, offset, paddr, filesz);
    mem.slice(paddr + filesz, memsz - filesz).fill(0);
    start = Math.min(start, paddr);
    end = Math.max(end, paddr + memsz);
  }
  if (end === 0) throw new KernelLoadError(name, "ELF kernel has no PT_LOAD segment");
  const entry = safeNumber(name, eh.u64(E_ENTRY), "entry point");
  if (entry < start || entry >= end) {
    throw new KernelLoadError(name, `entry point ${hex(entry)} is outside the loaded segments`);
  }
  return {
    type: "ELF",
    entry,
    start,
    end,
    params: emptyBootParams(CMDLINE_MAX_SIZE - 1),
    cmdlineMax: CMDLINE_MAX_SIZE - 1,
    initrdAddrMax: DEFAULT_INITRD_ADDR_MAX,
  };
}

export interface LoadedInitrd {
  readonly addr: number;
  readonly size: number;
}

/**
 * Copies the initrd to the highest page-aligned address where it fits inside one RAM region, ends at or below
 * `maxAddr` (its last byte) and starts at or above `minAddr`.
 */
export function loadInitrd(
  mem: GuestMemory,
  image: ImageSource,
  minAddr: number,
  maxAddr: number,
): LoadedInitrd {
  const size = image.size;
  if (size === 0) throw new InitrdLoadError(image.name, "is empty");
  if (size > 0xffff_ffff) throw new InitrdLoadError(image.name, `is ${mib(size)}, more than 4 GiB`);
  const regions = [...mem.regions].sort((a, b) => b.guestAddr - a.guestAddr);
  for (const r of regions) {
    const last = Math.min(r.guestAddr + r.size - 1, maxAddr);
    const addr = alignDown(last - size + 1, PAGE_SIZE);
    if (addr >= alignUp(r.guestAddr, PAGE_SIZE) && addr >= minAddr) {
      copyToGuest(mem, image, 0, addr, size);
      return { addr, size };
    }
  }
  throw new InitrdLoadError(
    image.name,
    `(${mib(size)}) does not fit in guest RAM between ${hex(minAddr)} and ${hex(maxAddr)} ` +
      `(the kernel ends at ${hex(minAddr)}; add memory with --mem)`,
  );
}
