import { describe, expect, test } from "bun:test";
import {
  BOOT_GDT,
  CR0_PE,
  CR0_PG,
  CR4_PAE,
  EFER_LMA,
  EFER_LME,
  bootCpuState,
  writeBootCpuTables,
} from "../../../src/arch/x86_64/cpu_state.ts";
import { resetSregs } from "../fixtures/sregs.ts";
import { gdtEntry, segmentFromGdt } from "../../../src/arch/x86_64/gdt.ts";
import {
  BOOT_GDT_ADDR,
  BOOT_IDT_ADDR,
  CMDLINE_ADDR,
  GIB,
  KERNEL_START,
  ZERO_PAGE_ADDR,
} from "../../../src/arch/x86_64/layout.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { guestMemory } from "./fake_kernels.ts";

/** Walks 4-level page tables like the MMU (SDM Vol. 3A §4.5), returning the physical address or undefined. */
function translate(mem: GuestMemory, cr3: bigint, vaddr: number): number | undefined {
  const v = BigInt(vaddr);
  let table = cr3 & ~0xfffn;
  for (const [shift, level] of [
    [39n, 4],
    [30n, 3],
    [21n, 2],
    [12n, 1],
  ] as const) {
    const entry = mem.readU64(Number(table + ((v >> shift) & 0x1ffn) * 8n));
    if ((entry & 1n) === 0n) return undefined;
    const frame = entry & 0x000f_ffff_ffff_f000n;
    if ((level === 3 || level === 2) && (entry & 0x80n) !== 0n) {
      const pageMask = (1n << shift) - 1n;
      return Number((frame & ~pageMask) | (v & pageMask));
    }
    if (level === 1) return Number(frame | (v & 0xfffn));
    table = frame;
  }
  return undefined;
}

describe("boot page tables", () => {
  test("identity-map the addresses Linux touches at its 64-bit entry", () => {
    const mem = guestMemory(64);
    const cr3 = writeBootCpuTables(mem);
    for (const addr of [
      0,
      ZERO_PAGE_ADDR,
      CMDLINE_ADDR,
      KERNEL_START,
      KERNEL_START + 0x200,
      0x100_0000,
      0x3ff_ffff,
    ]) {
      expect(translate(mem, cr3, addr)).toBe(addr);
    }
  });

  test("cover the first 4 GiB and nothing above", () => {
    const mem = guestMemory(64);
    const cr3 = writeBootCpuTables(mem);
    expect(translate(mem, cr3, 4 * GIB - 1)).toBe(4 * GIB - 1);
    expect(translate(mem, cr3, 0xd000_1234)).toBe(0xd000_1234);
    expect(translate(mem, cr3, 4 * GIB)).toBeUndefined();
  });

  test("use 2 MiB pages from the PDE page at 0xB000", () => {
    const mem = guestMemory(64);
    writeBootCpuTables(mem);
    expect(mem.readU64(0x9000)).toBe(0xa003n);
    expect(mem.readU64(0xa000)).toBe(0xb003n);
    expect(mem.readU64(0xb008)).toBe(0x20_0083n);
    expect(mem.readU64(0xa018)).toBe(0xe003n);
  });
});

describe("boot GDT", () => {
  test("entries encode as Linux's GDT_ENTRY does", () => {
    expect(BOOT_GDT[2]).toBe(0x00af_9b00_0000_ffffn);
    expect(BOOT_GDT[3]).toBe(0x00cf_9300_0000_ffffn);
    expect(BOOT_GDT[4]).toBe(0x008f_8b00_0000_ffffn);
  });

  test("the code segment decodes as 64-bit, present, execute/read", () => {
    expect(segmentFromGdt(BOOT_GDT[2]!, 2)).toEqual({
      base: 0n,
      limit: 0xffff_ffff,
      selector: 0x10,
      type: 0xb,
      present: 1,
      dpl: 0,
      db: 0,
      s: 1,
      l: 1,
      g: 1,
      avl: 0,
      unusable: 0,
    });
  });

  test("the data segment decodes as 32-bit flat read/write", () => {
    const ds = segmentFromGdt(BOOT_GDT[3]!, 3);
    expect([ds.selector, ds.type, ds.db, ds.l, ds.s, ds.limit]).toEqual([0x18, 3, 1, 0, 1, 0xffff_ffff]);
  });

  test("the TSS decodes as a busy 64-bit TSS system segment", () => {
    const tr = segmentFromGdt(BOOT_GDT[4]!, 4);
    expect([tr.selector, tr.type, tr.s, tr.present]).toEqual([0x20, 0xb, 0, 1]);
  });

  test("base and byte-granular limit round-trip", () => {
    const seg = segmentFromGdt(gdtEntry(0x0093, 0x1234_5678, 0xabcde), 1);
    expect([seg.base, seg.limit, seg.g]).toEqual([0x1234_5678n, 0xabcde, 0]);
  });

  test("is written at 0x1500 with a null IDT at 0x1528", () => {
    const mem = guestMemory(64);
    mem.writeU64(BOOT_IDT_ADDR, 0xffn);
    writeBootCpuTables(mem);
    expect(mem.readU64(BOOT_GDT_ADDR + 0x10)).toBe(BOOT_GDT[2]!);
    expect(mem.readU64(BOOT_IDT_ADDR)).toBe(0n);
  });
});

describe("bootCpuState", () => {
  test("general registers start the kernel with RSI at the zero page", () => {
    const { regs } = bootCpuState(0x200200, 0x9000n);
    expect([regs.rip, regs.rsi, regs.rsp, regs.rflags]).toEqual([0x200200n, 0x7000n, 0x8000n, 2n]);
  });

  test("sregs enter long mode with paging", () => {
    const s = bootCpuState(0x200200, 0x9000n).sregs(resetSregs());
    expect(s.cr0 & (CR0_PE | CR0_PG)).toBe(CR0_PE | CR0_PG);
    expect(s.cr4 & CR4_PAE).toBe(CR4_PAE);
    expect(s.efer & (EFER_LME | EFER_LMA)).toBe(EFER_LME | EFER_LMA);
    expect(s.cr3).toBe(0x9000n);
  });

  test("sregs load the boot selectors and descriptor tables", () => {
    const s = bootCpuState(0x200200, 0x9000n).sregs(resetSregs());
    expect([s.cs.selector, s.ds.selector, s.ss.selector, s.tr.selector]).toEqual([0x10, 0x18, 0x18, 0x20]);
    expect(s.cs.l).toBe(1);
    expect(s.gdt).toEqual({ base: 0x1500n, limit: 47 });
    expect(s.idt).toEqual({ base: 0x1528n, limit: 7 });
  });

  test("sregs keep fields the boot does not own", () => {
    const before = resetSregs();
    const s = bootCpuState(0x200200, 0x9000n).sregs(before);
    expect(s.apic_base).toBe(before.apic_base);
    expect(s.ldt).toEqual(before.ldt);
    expect(s.cr0 & 0x6000_0000n).toBe(0x6000_0000n);
    expect(before.cs.selector).toBe(0xf000);
  });

  test("FPU starts with the reset control word and MXCSR", () => {
    expect(bootCpuState(0, 0n).fpu).toEqual({ fcw: 0x37f, mxcsr: 0x1f80 });
  });
});
