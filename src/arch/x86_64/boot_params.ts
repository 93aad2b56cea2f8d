// struct boot_params, "the zero page" of the Linux x86 boot protocol (arch/x86/include/uapi/asm/bootparam.h,
// Documentation/arch/x86/boot.rst "THE REAL-MODE KERNEL HEADER" and zero-page.rst). It is 4096 bytes; the
// setup_header sits at 0x1f1 and is copied from the bzImage; the loader fills in the fields it owns.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { LeBytes } from "./bytes.ts";
import { E820_ENTRY_SIZE, E820_MAX_ENTRIES, type E820Entry } from "./e820.ts";
import { ZERO_PAGE_ADDR } from "./layout.ts";

export const BOOT_PARAMS_SIZE = 4096;

/** Offsets of boot_params fields (bootparam.h comments give the same numbers). */
export const BP = {
  acpi_rsdp_addr: 0x070,
  ext_ramdisk_image: 0x0c0,
  ext_ramdisk_size: 0x0c4,
  ext_cmd_line_ptr: 0x0c8,
  e820_entries: 0x1e8,
  sentinel: 0x1ef,
  hdr: 0x1f1,
  e820_table: 0x2d0,
} as const;

/** Offsets of setup_header fields inside boot_params (boot.rst "THE REAL-MODE KERNEL HEADER" table). */
export const HDR = {
  setup_sects: 0x1f1,
  root_flags: 0x1f2,
  syssize: 0x1f4,
  ram_size: 0x1f8,
  vid_mode: 0x1fa,
  root_dev: 0x1fc,
  boot_flag: 0x1fe,
  jump: 0x200,
  /** Bytes 0x202.. "HdrS"; the byte at 0x201 (high byte of `jump`) gives the header's end: 0x202 + it. */
  header: 0x202,
  version: 0x206,
  realmode_swtch: 0x208,
  start_sys_seg: 0x20c,
  kernel_version: 0x20e,
  type_of_loader: 0x210,
  loadflags: 0x211,
  setup_move_size: 0x212,
  code32_start: 0x214,
  ramdisk_image: 0x218,
  ramdisk_size: 0x21c,
  bootsect_kludge: 0x220,
  heap_end_ptr: 0x224,
  ext_loader_ver: 0x226,
  ext_loader_type: 0x227,
  cmd_line_ptr: 0x228,
  initrd_addr_max: 0x22c,
  kernel_alignment: 0x230,
  relocatable_kernel: 0x234,
  min_alignment: 0x235,
  xloadflags: 0x236,
  cmdline_size: 0x238,
  hardware_subarch: 0x23c,
  hardware_subarch_data: 0x240,
  payload_offset: 0x248,
  payload_length: 0x24c,
  setup_data: 0x250,
  pref_address: 0x258,
  init_size: 0x260,
  handover_offset: 0x264,
  kernel_info_offset: 0x268,
  /** One past the last field known to this code (struct setup_header ends here in Linux 6.x). */
  end: 0x26c,
} as const;

/** "HdrS" read as a little-endian u32. */
export const HDRS_MAGIC = 0x5372_6448;
export const BOOT_FLAG_MAGIC = 0xaa55;
/** type_of_loader 0xff: "undefined" boot loader (boot.rst, "type_of_loader"). */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** loadflags bit 0: the protected-mode code is loaded at 0x100000 or above. */
export const LOADED_HIGH = 1 << 0;
/** xloadflags (bootparam.h). */
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
/** crosvm writes this kernel_alignment (KERNEL_MIN_ALIGNMENT_BYTES in x86_64/src/lib.rs configure_boot_params). */
export const KERNEL_ALIGNMENT = 0x100_0000;
/** initrd_addr_max assumed for kernels that leave it 0 (boot.rst: protocol < 2.03 uses 0x37FFFFFF). */
export const DEFAULT_INITRD_ADDR_MAX = 0x37ff_ffff;
/** cmdline_size assumed when a kernel leaves it 0 (boot.rst: protocol < 2.06 allows 255 bytes). */
export const DEFAULT_CMDLINE_SIZE = 255;

/** What the loader fills into boot_params beyond the kernel's own setup header. */
export interface BootParamsFill {
  cmdlineAddr: number;
  initrd?: { addr: number; size: number };
  /** Guest address of the first setup_data node, if any. */
  setupData?: number;
  e820: readonly E820Entry[];
}

export class BootParamsError extends Error {
  override name = "BootParamsError";
}

/** A zeroed boot_params with only cmdline_size set, for kernels that bring no setup header (ELF vmlinux). */
export function emptyBootParams(cmdlineSize: number): Uint8Array {
  const params = LeBytes.zeroed(BOOT_PARAMS_SIZE);
  params.setU32(HDR.cmdline_size, cmdlineSize);
  return params.bytes;
}

/** Fills the loader-owned fields of `params` (modified in place) as crosvm's configure_boot_params does. */
export function fillBootParams(params: Uint8Array, fill: BootParamsFill): void {
  if (params.length !== BOOT_PARAMS_SIZE) {
    throw new BootParamsError(`boot_params must be ${BOOT_PARAMS_SIZE} bytes, got ${params.length}`);
  }
  if (fill.e820.length > E820_MAX_ENTRIES) {
    throw new BootParamsError(
      `e820 map has ${fill.e820.length} entries; the zero page holds ${E820_MAX_ENTRIES}`,
    );
  }
  const bp = new LeBytes(params);
  bp.setU8(HDR.type_of_loader, LOADER_TYPE_UNDEFINED);
  bp.setU16(HDR.boot_flag, BOOT_FLAG_MAGIC);
  bp.setU32(HDR.header, HDRS_MAGIC);
  bp.setU32(HDR.cmd_line_ptr, fill.cmdlineAddr % 2 ** 32);
  bp.setU32(BP.ext_cmd_line_ptr, Math.floor(fill.cmdlineAddr / 2 ** 32));
  bp.setU32(HDR.kernel_alignment, KERNEL_ALIGNMENT);
  if (fill.setupData !== undefined) bp.setU64(HDR.setup_data, fill.setupData);
  if (fill.initrd) {
    if (fill.initrd.size > 0xffff_ffff) throw new BootParamsError("initrd larger than 4 GiB");
    bp.setU32(HDR.ramdisk_image, fill.initrd.addr % 2 ** 32);
    bp.setU32(BP.ext_ramdisk_image, Math.floor(fill.initrd.addr / 2 ** 32));
    bp.setU32(HDR.ramdisk_size, fill.initrd.size);
    bp.setU32(BP.ext_ramdisk_size, 0);
  }
  fill.e820.forEach((entry, i) => {
    const at = BP.e820_table + i * E820_ENTRY_SIZE;
    bp.setU64(at, entry.addr)
      .setU64(at + 8, entry.size)
      .setU32(at + 16, entry.type);
  });
  bp.setU8(BP.e820_entries, fill.e820.length);
}

/** Writes boot_params at ZERO_PAGE_ADDR. */
export function writeBootParams(mem: GuestMemory, params: Uint8Array): void {
  if (!mem.isValidRange(ZERO_PAGE_ADDR, BOOT_PARAMS_SIZE)) {
    throw new BootParamsError("the zero page at 0x7000 is outside guest RAM");
  }
  mem.write(ZERO_PAGE_ADDR, params);
}

/** Reads back the e820 table of a boot_params (for tests and debugging). */
export function readE820(params: Uint8Array): E820Entry[] {
  const bp = new LeBytes(params);
  const out: E820Entry[] = [];
  for (let i = 0; i < bp.u8(BP.e820_entries); i++) {
    const at = BP.e820_table + i * E820_ENTRY_SIZE;
    out.push({
      addr: Number(bp.u64(at)),
      size: Number(bp.u64(at + 8)),
      type: bp.u32(at + 16) as E820Entry["type"],
    });
  }
  return out;
}
