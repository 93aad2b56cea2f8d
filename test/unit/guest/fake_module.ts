// Test helper: tiny kernel-module-shaped ELF files.

/** A minimal ELF64 file with section headers: null, .shstrtab, .modinfo (layout as in include/uapi/linux/elf.h). */
export function fakeModule(modinfo: string): Uint8Array {
  const enc = new TextEncoder();
  const shstrtab = enc.encode("\0.shstrtab\0.modinfo\0");
  const info = enc.encode(modinfo);
  const shstrtabAt = 64;
  const infoAt = shstrtabAt + shstrtab.length;
  const shoff = Math.ceil((infoAt + info.length) / 8) * 8;
  const bytes = new Uint8Array(shoff + 3 * 64);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  view.setBigUint64(0x28, BigInt(shoff), true);
  view.setUint16(0x3a, 64, true);
  view.setUint16(0x3c, 3, true);
  view.setUint16(0x3e, 1, true);
  bytes.set(shstrtab, shstrtabAt);
  bytes.set(info, infoAt);
  const section = (index: number, name: number, offset: number, size: number) => {
    const at = shoff + index * 64;
    view.setUint32(at, name, true);
    view.setBigUint64(at + 0x18, BigInt(offset), true);
    view.setBigUint64(at + 0x20, BigInt(size), true);
  };
  section(1, 1, shstrtabAt, shstrtab.length);
  section(2, 11, infoAt, info.length);
  return bytes;
}
