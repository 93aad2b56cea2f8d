// Builders for small, well-formed kernel images the loader tests start from (and then break on purpose).
import {
  HDR,
  HDRS_MAGIC,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
} from "../../../src/arch/x86_64/boot_params.ts";
import { LeBytes } from "../../../src/arch/x86_64/bytes.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { MIB, guestRamRegions } from "../../../src/arch/x86_64/layout.ts";

export interface FakeBzImageOptions {
  setupSects?: number;
  version?: number;
  xloadflags?: number;
  payload?: Uint8Array;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  initSize?: number;
  prefAddress?: number;
  relocatable?: boolean;
}

/** A bzImage whose protected-mode payload is `payload` (default: 4 KiB of a recognisable pattern). */
export function fakeBzImage(o: FakeBzImageOptions = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const payload = o.payload ?? Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
  const setupSize = ((setupSects || 4) + 1) * 512;
  const image = new LeBytes(new Uint8Array(setupSize + payload.length));
  image
    .setU8(HDR.setup_sects, setupSects)
    .setU32(HDR.syssize, Math.ceil(payload.length / 16))
    .setU16(HDR.boot_flag, 0xaa55)
    .setU8(0x200, 0xeb) // jmp short over the header
    .setU8(0x201, HDR.end - 0x202)
    .setU32(HDR.header, HDRS_MAGIC)
    .setU16(HDR.version, o.version ?? 0x020f)
    .setU8(HDR.loadflags, 1)
    .setU32(HDR.code32_start, 0x100000)
    .setU32(HDR.initrd_addr_max, o.initrdAddrMax ?? 0x7fff_ffff)
    .setU32(HDR.kernel_alignment, 0x20_0000)
    .setU8(HDR.relocatable_kernel, (o.relocatable ?? true) ? 1 : 0)
    .setU16(HDR.xloadflags, o.xloadflags ?? XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G)
    .setU32(HDR.cmdline_size, o.cmdlineSize ?? 2047)
    .setU64(HDR.pref_address, o.prefAddress ?? 0x100_0000)
    .setU32(HDR.init_size, o.initSize ?? 0x10_0000);
  // With syssize rounded up, the payload must be a multiple of 16 to match the file size exactly.
  image.bytes.set(payload, setupSize);
  return image.bytes;
}

export interface FakeSegment {
  paddr: number;
  data: Uint8Array;
  memsz?: number;
  type?: number;
}

/** An ELF64 x86-64 executable with one program header per segment. */
export function fakeElf(segments: FakeSegment[], entry: number, machine = 62): Uint8Array {
  const ehsize = 64;
  const phsize = 56;
  let dataAt = ehsize + phsize * segments.length;
  const size = dataAt + segments.reduce((n, s) => n + s.data.length, 0);
  const elf = new LeBytes(new Uint8Array(size));
  elf.bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  elf
    .setU16(16, 2) // ET_EXEC
    .setU16(18, machine)
    .setU32(20, 1)
    .setU64(24, entry)
    .setU64(32, ehsize)
    .setU16(52, ehsize)
    .setU16(54, phsize)
    .setU16(56, segments.length);
  segments.forEach((s, i) => {
    const ph = ehsize + i * phsize;
    elf
      .setU32(ph, s.type ?? 1)
      .setU32(ph + 4, 5)
      .setU64(ph + 8, dataAt)
      .setU64(ph + 16, s.paddr) // p_vaddr (the loader uses p_paddr)
      .setU64(ph + 24, s.paddr)
      .setU64(ph + 32, s.data.length)
      .setU64(ph + 40, s.memsz ?? s.data.length)
      .setU64(ph + 48, 0x200000);
    elf.bytes.set(s.data, dataAt);
    dataAt += s.data.length;
  });
  return elf.bytes;
}

/** Guest memory laid out as the VMM would for `memMib` MiB (ArrayBuffer-backed). */
export function guestMemory(memMib: number): GuestMemory {
  return GuestMemory.anonymous(guestRamRegions(memMib * MIB));
}
