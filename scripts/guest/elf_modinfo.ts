// Reads a kernel module's .modinfo section (NUL-separated "key=value" strings) from its ELF file, so module
// dependencies can be resolved without kmod's depmod. Layouts: ELF-64 Object File Format (System V gABI),
// as in include/uapi/linux/elf.h (Elf64_Ehdr, Elf64_Shdr).

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const EI_CLASS = 4;
const ELFCLASS64 = 2;
const E_SHOFF = 0x28; // Elf64_Ehdr.e_shoff (u64)
const E_SHENTSIZE = 0x3a; // Elf64_Ehdr.e_shentsize (u16)
const E_SHNUM = 0x3c; // Elf64_Ehdr.e_shnum (u16)
const E_SHSTRNDX = 0x3e; // Elf64_Ehdr.e_shstrndx (u16)
const SH_NAME = 0x00; // Elf64_Shdr.sh_name (u32)
const SH_OFFSET = 0x18; // Elf64_Shdr.sh_offset (u64)
const SH_SIZE = 0x20; // Elf64_Shdr.sh_size (u64)

interface Section {
  name: string;
  offset: number;
  size: number;
}

function cString(bytes: Uint8Array, start: number): string {
  let end = start;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

function sections(elf: Uint8Array, source: string): Section[] {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 64 || view.getUint32(0, true) !== ELF_MAGIC || elf[EI_CLASS] !== ELFCLASS64) {
    throw new Error(`${source}: not a 64-bit ELF file`);
  }
  const shoff = Number(view.getBigUint64(E_SHOFF, true));
  const shentsize = view.getUint16(E_SHENTSIZE, true);
  const shnum = view.getUint16(E_SHNUM, true);
  const shstrndx = view.getUint16(E_SHSTRNDX, true);
  if (shoff + shnum * shentsize > elf.length || shstrndx >= shnum) {
    throw new Error(`${source}: section header table lies outside the file`);
  }
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      nameOffset: view.getUint32(at + SH_NAME, true),
      offset: Number(view.getBigUint64(at + SH_OFFSET, true)),
      size: Number(view.getBigUint64(at + SH_SIZE, true)),
    };
  });
  const names = raw[shstrndx]!;
  return raw.map((s) => ({
    name: cString(elf, names.offset + s.nameOffset),
    offset: s.offset,
    size: s.size,
  }));
}

/** The key=value pairs of .modinfo; a key that occurs several times (alias=) keeps its last value. */
export function readModinfo(elf: Uint8Array, source: string): Map<string, string> {
  const modinfo = sections(elf, source).find((s) => s.name === ".modinfo");
  if (!modinfo || modinfo.offset + modinfo.size > elf.length) {
    throw new Error(`${source}: no .modinfo section; is it a kernel module?`);
  }
  const text = new TextDecoder().decode(elf.subarray(modinfo.offset, modinfo.offset + modinfo.size));
  const info = new Map<string, string>();
  for (const item of text.split("\0")) {
    const eq = item.indexOf("=");
    if (eq > 0) info.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return info;
}

/** Module names this module needs loaded first (modinfo's "depends="), with '-' written as '_'. */
export function moduleDependencies(elf: Uint8Array, source: string): string[] {
  const depends = readModinfo(elf, source).get("depends") ?? "";
  return depends
    .split(",")
    .filter((name) => name !== "")
    .map(normalizeModuleName);
}

/** The kernel treats '-' and '_' in module names alike (scripts/Makefile.lib's KBUILD_MODNAME). */
export function normalizeModuleName(name: string): string {
  return name.replace(/\.ko(\.(xz|gz|zst))?$/, "").replace(/-/g, "_");
}
