import { describe, expect, test } from "bun:test";
import type { KvmRegs, KvmSegment, KvmSregs } from "../../../ffi/kvm_types.ts";
import {
  G_PACKET_BYTES,
  REGISTERS,
  REGISTER_OFFSETS,
  RegisterWriteError,
  abridgedTagWord,
  decodeRegisters,
  encodeRegisters,
  fullTagWord,
  regnum,
  targetXml,
  type CpuRegisterState,
} from "../../../src/vmm/gdb/x86_64_registers.ts";

function segment(selector: number, base = 0n): KvmSegment {
  return {
    base,
    limit: 0xffff_ffff,
    selector,
    type: 0,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 1,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

function state(): CpuRegisterState {
  const names = [
    "rax",
    "rbx",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "rsp",
    "rbp",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "r13",
    "r14",
    "r15",
  ];
  const regs = Object.fromEntries(names.map((n, i) => [n, BigInt(i + 1) * 0x1111n])) as unknown as KvmRegs;
  regs.rip = 0x200000n;
  regs.rflags = 0x246n;
  const sregs = {
    cs: segment(0x10),
    ds: segment(0x18),
    es: segment(0x18),
    fs: segment(0x18, 0x7000n),
    gs: segment(0x18, 0x8000n),
    ss: segment(0x18),
    tr: segment(0),
    ldt: segment(0),
    gdt: { base: 0n, limit: 0 },
    idt: { base: 0n, limit: 0 },
    cr0: 0x8000_0011n,
    cr2: 0n,
    cr3: 0x9000n,
    cr4: 0x20n,
    cr8: 0n,
    efer: 0x500n,
    apic_base: 0xfee0_0900n,
    interrupt_bitmap: [0n, 0n, 0n, 0n],
  } as unknown as KvmSregs;
  const fpu = {
    fpr: new Uint8Array(128),
    fcw: 0x37f,
    fsw: 0,
    ftwx: 0,
    last_opcode: 0,
    last_ip: 0n,
    last_dp: 0n,
    xmm: new Uint8Array(256).map((_, i) => i),
    mxcsr: 0x1f80,
  };
  return { regs, sregs, fpu, kernelGsBase: 0xffff_8880_0000_0000n };
}

const u64At = (b: Uint8Array, name: string) =>
  new DataView(b.buffer).getBigUint64(REGISTER_OFFSETS[regnum(name)]!, true);
const u32At = (b: Uint8Array, name: string) =>
  new DataView(b.buffer).getUint32(REGISTER_OFFSETS[regnum(name)]!, true);

describe("x86-64 register file", () => {
  test("the g packet follows gdb's amd64 order and sizes (core, sse, segments, system)", () => {
    expect(REGISTERS.slice(0, 18).map((r) => r.name)).toEqual([
      "rax",
      "rbx",
      "rcx",
      "rdx",
      "rsi",
      "rdi",
      "rbp",
      "rsp",
      "r8",
      "r9",
      "r10",
      "r11",
      "r12",
      "r13",
      "r14",
      "r15",
      "rip",
      "eflags",
    ]);
    expect(regnum("st0")).toBe(24);
    expect(regnum("xmm0")).toBe(40);
    expect(regnum("mxcsr")).toBe(56);
    // 17 x 8 + 7 x 4 + 8 x 10 + 8 x 4 + 16 x 16 + 4 + 3 x 8 + 6 x 8
    expect(G_PACKET_BYTES).toBe(136 + 28 + 80 + 32 + 256 + 4 + 24 + 48);
  });

  test("encoding puts each KVM field at its register's offset", () => {
    const b = encodeRegisters(state());

    expect(u64At(b, "rsp")).toBe(7n * 0x1111n);
    expect(u64At(b, "rbp")).toBe(8n * 0x1111n);
    expect(u64At(b, "rip")).toBe(0x200000n);
    expect(u32At(b, "eflags")).toBe(0x246);
    expect(u32At(b, "cs")).toBe(0x10);
    expect(u64At(b, "fs_base")).toBe(0x7000n);
    expect(u64At(b, "k_gs_base")).toBe(0xffff_8880_0000_0000n);
    expect(u64At(b, "cr3")).toBe(0x9000n);
    expect(u32At(b, "mxcsr")).toBe(0x1f80);
    expect(b[REGISTER_OFFSETS[regnum("xmm1")]!]).toBe(16);
  });

  test("decoding an unchanged buffer changes nothing", () => {
    const s = state();

    expect(decodeRegisters(encodeRegisters(s), s).size).toBe(0);
  });

  test("decoding a changed GPR and CR marks regs and sregs as changed", () => {
    const s = state();
    const b = encodeRegisters(s);
    new DataView(b.buffer).setBigUint64(REGISTER_OFFSETS[regnum("rax")]!, 42n, true);
    new DataView(b.buffer).setBigUint64(REGISTER_OFFSETS[regnum("cr4")]!, 0x6a0n, true);

    const changed = decodeRegisters(b, s);

    expect([...changed].sort()).toEqual(["regs", "sregs"]);
    expect(s.regs.rax).toBe(42n);
    expect(s.sregs.cr4).toBe(0x6a0n);
  });

  test("a changed segment selector is refused", () => {
    const s = state();
    const b = encodeRegisters(s);
    new DataView(b.buffer).setUint32(REGISTER_OFFSETS[regnum("ds")]!, 0x2b, true);

    expect(() => decodeRegisters(b, s)).toThrow(RegisterWriteError);
  });

  test("x87 tag words convert between FXSAVE's abridged form and the full one", () => {
    expect(fullTagWord(0)).toBe(0xffff);
    expect(fullTagWord(0x01)).toBe(0xfffc);
    expect(abridgedTagWord(0xfffc)).toBe(0x01);
  });

  test("the target description names i386:x86-64 and every register with its number", () => {
    const xml = targetXml();

    expect(xml).toContain("<architecture>i386:x86-64</architecture>");
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('<reg name="rip" bitsize="64" type="code_ptr" regnum="16"/>');
    expect(xml).toContain('<reg name="cr3" bitsize="64" type="int" regnum="');
    expect(xml.match(/<reg /g)).toHaveLength(REGISTERS.length);
  });
});
