// Every FUSE struct the server reads or writes has the layout of the installed uapi header
// (/usr/include/linux/fuse.h): field names, offsets and sizes, computed from the header's own declarations.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { CHECKED_STRUCTS, OP } from "../../../../src/devices/virtio/fs/layout.ts";

const HEADER = "/usr/include/linux/fuse.h";
const SIZES: Record<string, number> = {
  uint64_t: 8,
  int64_t: 8,
  uint32_t: 4,
  int32_t: 4,
  uint16_t: 2,
  uint8_t: 1,
};

/** struct NAME { ... } of the header, as [field, offset, size] plus the total size (C alignment rules). */
function parseStruct(text: string, name: string): { fields: [string, number, number][]; size: number } {
  const m = new RegExp(`struct ${name} \\{([^}]*)\\};`).exec(text);
  if (!m) throw new Error(`struct ${name} not in ${HEADER}`);
  const fields: [string, number, number][] = [];
  let off = 0;
  let align = 1;
  for (const line of m[1]!.replace(/\/\*[\s\S]*?\*\//g, "").split(";")) {
    const f = /^\s*(\w+)\s+(\w+)(?:\[(\d+)\])?\s*$/.exec(line);
    if (!f) continue;
    const size = SIZES[f[1]!];
    if (size === undefined) throw new Error(`struct ${name}: field type ${f[1]} not handled`);
    off = Math.ceil(off / size) * size;
    fields.push([f[2]!, off, size * Number(f[3] ?? 1)]);
    off += size * Number(f[3] ?? 1);
    align = Math.max(align, size);
  }
  return { fields, size: Math.ceil(off / align) * align };
}

const SIZE_OF = { u64: 8, u32: 4, i32: 4, u16: 2 } as const;

describe.skipIf(!existsSync(HEADER))("FUSE layouts against fuse.h", () => {
  const text = readFileSync(HEADER, "utf8");
  for (const s of CHECKED_STRUCTS) {
    test(`${s.name}: every field at the header's offset and size`, () => {
      const c = parseStruct(text, s.name);
      const ours = s.fields.map(([k, t]) => [k, s.at[k], SIZE_OF[t]]);
      expect(ours).toEqual(c.fields.slice(0, ours.length));
    });
  }

  test("structs we use whole have the header's size", () => {
    const whole = CHECKED_STRUCTS.filter(
      (s) =>
        ![
          "fuse_init_in",
          "fuse_init_out",
          "fuse_setxattr_in",
          "fuse_kstatfs",
          "fuse_entry_out",
          "fuse_attr_out",
          "fuse_dirent",
        ].includes(s.name),
    );
    expect(whole.map((s) => [s.name, s.size])).toEqual(
      whole.map((s) => [s.name, parseStruct(text, s.name).size]),
    );
  });

  test("the opcodes are enum fuse_opcode's", () => {
    const m = /enum fuse_opcode \{([^}]*)\}/.exec(text)!;
    const values = new Map([...m[1]!.matchAll(/FUSE_(\w+)\s*=\s*(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
    for (const [name, value] of Object.entries(OP)) expect([name, values.get(name)]).toEqual([name, value]);
  });
});
