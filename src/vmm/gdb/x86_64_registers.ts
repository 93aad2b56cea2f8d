// The x86-64 register file as the GDB stub shows it: the target description (qXfer:features:read:target.xml) and
// the `g` packet's byte layout, which follows the description's order. Features and names as gdb's own
// features/i386/64bit-core.xml, 64bit-sse.xml and 64bit-segments.xml (gdb's i386 tdesc validation looks the
// registers up by these names), plus the control registers and EFER in a feature of ours, as QEMU's
// gdb-xml/i386-64bit.xml shows them. Values are little-endian (gdb's "i386:x86-64").
import type { KvmFpu } from "../../../ffi/kvm_structs.ts";
import type { KvmRegs, KvmSregs } from "../../../ffi/kvm_types.ts";

type Source = "regs" | "sregs" | "fpu" | "msr";

interface RegisterDef {
  readonly name: string;
  readonly bytes: number;
  readonly type: string;
  readonly feature: string;
  readonly group?: string;
}

const CORE = "org.gnu.gdb.i386.core";
const SSE = "org.gnu.gdb.i386.sse";
const SEGMENTS = "org.gnu.gdb.i386.segments";
const SYS = "org.crosvm-ts.x86_64.sys";

const GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] as const;
const R8_15 = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"] as const;
const SEGS = ["cs", "ss", "ds", "es", "fs", "gs"] as const;
const X87_CTRL = ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"] as const;
const CRS = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer"] as const;

/** Every register in `g` order; its number (gdb's regnum for p/P) is its index. */
export const REGISTERS: readonly RegisterDef[] = [
  ...GPRS.map((name) => ({
    name,
    bytes: 8,
    type: name === "rbp" || name === "rsp" ? "data_ptr" : "int64",
    feature: CORE,
  })),
  ...R8_15.map((name) => ({ name, bytes: 8, type: "int64", feature: CORE })),
  { name: "rip", bytes: 8, type: "code_ptr", feature: CORE },
  { name: "eflags", bytes: 4, type: "i386_eflags", feature: CORE },
  ...SEGS.map((name) => ({ name, bytes: 4, type: "int32", feature: CORE })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bytes: 10, type: "i387_ext", feature: CORE })),
  ...X87_CTRL.map((name) => ({ name, bytes: 4, type: "int", feature: CORE, group: "float" })),
  ...Array.from({ length: 16 }, (_, i) => ({ name: `xmm${i}`, bytes: 16, type: "vec128", feature: SSE })),
  { name: "mxcsr", bytes: 4, type: "i386_mxcsr", feature: SSE, group: "vector" },
  { name: "fs_base", bytes: 8, type: "int", feature: SEGMENTS },
  { name: "gs_base", bytes: 8, type: "int", feature: SEGMENTS },
  { name: "k_gs_base", bytes: 8, type: "int", feature: SEGMENTS },
  ...CRS.map((name) => ({ name, bytes: 8, type: "int", feature: SYS, group: "system" })),
];

export const REGISTER_OFFSETS: readonly number[] = REGISTERS.reduce<number[]>(
  (acc, r, i) => [...acc, i === 0 ? 0 : acc[i - 1]! + REGISTERS[i - 1]!.bytes],
  [],
);
export const G_PACKET_BYTES = REGISTER_OFFSETS.at(-1)! + REGISTERS.at(-1)!.bytes;
export const regnum = (name: string): number => REGISTERS.findIndex((r) => r.name === name);

const EFLAGS_FIELDS = [
  ["CF", 0],
  ["", 1],
  ["PF", 2],
  ["AF", 4],
  ["ZF", 6],
  ["SF", 7],
  ["TF", 8],
  ["IF", 9],
  ["DF", 10],
  ["OF", 11],
  ["NT", 14],
  ["RF", 16],
  ["VM", 17],
  ["AC", 18],
  ["VIF", 19],
  ["VIP", 20],
  ["ID", 21],
] as const;
const MXCSR_FIELDS = ["IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM", "FZ"];

function featureXml(feature: string, types: string): string {
  const regs = REGISTERS.map((r, i) => ({ r, i }))
    .filter(({ r }) => r.feature === feature)
    .map(
      ({ r, i }) =>
        `<reg name="${r.name}" bitsize="${r.bytes * 8}" type="${r.type}" regnum="${i}"${r.group ? ` group="${r.group}"` : ""}/>`,
    );
  return `<feature name="${feature}">${types}${regs.join("")}</feature>`;
}

/** The target description gdb reads with qXfer:features:read:target.xml. */
export function targetXml(): string {
  const eflags = `<flags id="i386_eflags" size="4">${EFLAGS_FIELDS.map(([n, b]) => `<field name="${n}" start="${b}" end="${b}"/>`).join("")}</flags>`;
  const vec128 =
    `<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>` +
    `<vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>` +
    `<vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>` +
    `<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>` +
    `<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>` +
    `<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>` +
    `<field name="uint128" type="uint128"/></union>`;
  const mxcsr = `<flags id="i386_mxcsr" size="4">${MXCSR_FIELDS.map((n, b) => `<field name="${n}" start="${b}" end="${b}"/>`).join("")}</flags>`;
  return (
    `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">` +
    `<architecture>i386:x86-64</architecture>` +
    featureXml(CORE, eflags) +
    featureXml(SSE, vec128 + mxcsr) +
    featureXml(SEGMENTS, "") +
    featureXml(SYS, "") +
    `</target>`
  );
}

/** What the `g` packet is made of: KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_FPU and MSR_KERNEL_GS_BASE. */
export interface CpuRegisterState {
  regs: KvmRegs;
  sregs: KvmSregs;
  fpu: KvmFpu;
  kernelGsBase: bigint;
}

const GPR_FIELDS: readonly (keyof KvmRegs)[] = [...GPRS, ...R8_15];

/** Abridged x87 tag word (FXSAVE's ftwx, one bit per register: 1 = valid) to the full tag word gdb shows. */
export function fullTagWord(ftwx: number): number {
  let tag = 0;
  for (let i = 0; i < 8; i++) tag |= ((ftwx >> i) & 1 ? 0 : 3) << (i * 2);
  return tag;
}

/** The full tag word back to FXSAVE's abridged form (empty = 3, anything else valid). */
export function abridgedTagWord(tag: number): number {
  let ftwx = 0;
  for (let i = 0; i < 8; i++) if (((tag >> (i * 2)) & 3) !== 3) ftwx |= 1 << i;
  return ftwx;
}

/** The `g` packet's bytes for one vCPU. */
export function encodeRegisters(s: CpuRegisterState): Uint8Array {
  const out = new Uint8Array(G_PACKET_BYTES);
  const dv = new DataView(out.buffer);
  const u64 = (name: string, v: bigint) =>
    dv.setBigUint64(REGISTER_OFFSETS[regnum(name)]!, BigInt.asUintN(64, v), true);
  const u32 = (name: string, v: number) => dv.setUint32(REGISTER_OFFSETS[regnum(name)]!, v >>> 0, true);
  for (const f of GPR_FIELDS) u64(f, s.regs[f]);
  u64("rip", s.regs.rip);
  u32("eflags", Number(s.regs.rflags & 0xffff_ffffn));
  for (const seg of SEGS) u32(seg, s.sregs[seg].selector);
  for (let i = 0; i < 8; i++)
    out.set(s.fpu.fpr.subarray(i * 16, i * 16 + 10), REGISTER_OFFSETS[regnum(`st${i}`)]!);
  u32("fctrl", s.fpu.fcw);
  u32("fstat", s.fpu.fsw);
  u32("ftag", fullTagWord(s.fpu.ftwx));
  u32("fiseg", 0);
  u32("fioff", Number(s.fpu.last_ip & 0xffff_ffffn));
  u32("foseg", 0);
  u32("fooff", Number(s.fpu.last_dp & 0xffff_ffffn));
  u32("fop", s.fpu.last_opcode);
  for (let i = 0; i < 16; i++)
    out.set(s.fpu.xmm.subarray(i * 16, i * 16 + 16), REGISTER_OFFSETS[regnum(`xmm${i}`)]!);
  u32("mxcsr", s.fpu.mxcsr);
  u64("fs_base", s.sregs.fs.base);
  u64("gs_base", s.sregs.gs.base);
  u64("k_gs_base", s.kernelGsBase);
  u64("cr0", s.sregs.cr0);
  u64("cr2", s.sregs.cr2);
  u64("cr3", s.sregs.cr3);
  u64("cr4", s.sregs.cr4);
  u64("cr8", s.sregs.cr8);
  u64("efer", s.sregs.efer);
  return out;
}

export class RegisterWriteError extends Error {
  override name = "RegisterWriteError";
}

/**
 * Applies a `g`-layout buffer to `s` (in place) and says which sources changed. A segment selector cannot be
 * changed this way (loading one needs its descriptor from the guest's GDT): a different value is refused.
 */
export function decodeRegisters(bytes: Uint8Array, s: CpuRegisterState): Set<Source> {
  if (bytes.length !== G_PACKET_BYTES)
    throw new RegisterWriteError(`expected ${G_PACKET_BYTES} bytes of registers, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (name: string) => dv.getBigUint64(REGISTER_OFFSETS[regnum(name)]!, true);
  const u32 = (name: string) => dv.getUint32(REGISTER_OFFSETS[regnum(name)]!, true);
  const changed = new Set<Source>();
  const set = <T extends object, K extends keyof T>(src: Source, obj: T, key: K, value: T[K]) => {
    if (obj[key] !== value) {
      obj[key] = value;
      changed.add(src);
    }
  };
  for (const f of GPR_FIELDS) set("regs", s.regs, f, u64(f));
  set("regs", s.regs, "rip", u64("rip"));
  set("regs", s.regs, "rflags", (s.regs.rflags & ~0xffff_ffffn) | BigInt(u32("eflags")));
  for (const seg of SEGS)
    if (u32(seg) !== s.sregs[seg].selector)
      throw new RegisterWriteError(`segment selector ${seg} cannot be changed from the debugger`);
  const fpr = new Uint8Array(s.fpu.fpr);
  for (let i = 0; i < 8; i++) {
    const at = REGISTER_OFFSETS[regnum(`st${i}`)]!;
    fpr.set(bytes.subarray(at, at + 10), i * 16);
  }
  if (!fpr.every((b, i) => b === s.fpu.fpr[i])) set("fpu", s.fpu, "fpr", fpr);
  set("fpu", s.fpu, "fcw", u32("fctrl") & 0xffff);
  set("fpu", s.fpu, "fsw", u32("fstat") & 0xffff);
  set("fpu", s.fpu, "ftwx", abridgedTagWord(u32("ftag")));
  set("fpu", s.fpu, "last_opcode", u32("fop") & 0xffff);
  set("fpu", s.fpu, "last_ip", (s.fpu.last_ip & ~0xffff_ffffn) | BigInt(u32("fioff")));
  set("fpu", s.fpu, "last_dp", (s.fpu.last_dp & ~0xffff_ffffn) | BigInt(u32("fooff")));
  const xmm = new Uint8Array(s.fpu.xmm);
  for (let i = 0; i < 16; i++) {
    const at = REGISTER_OFFSETS[regnum(`xmm${i}`)]!;
    xmm.set(bytes.subarray(at, at + 16), i * 16);
  }
  if (!xmm.every((b, i) => b === s.fpu.xmm[i])) set("fpu", s.fpu, "xmm", xmm);
  set("fpu", s.fpu, "mxcsr", u32("mxcsr"));
  set("sregs", s.sregs.fs, "base", u64("fs_base"));
  set("sregs", s.sregs.gs, "base", u64("gs_base"));
  if (u64("k_gs_base") !== s.kernelGsBase) {
    s.kernelGsBase = u64("k_gs_base");
    changed.add("msr");
  }
  for (const cr of ["cr0", "cr2", "cr3", "cr4", "cr8", "efer"] as const) set("sregs", s.sregs, cr, u64(cr));
  return changed;
}
