import { expect, test } from "bun:test";
import type { KvmRegs, KvmSegment, KvmSregs } from "../../../ffi/kvm_types.ts";
import { formatRegisterDump } from "../../../src/hypervisor/register_dump.ts";

const zeroRegs = (): KvmRegs => ({
  rax: 0n,
  rbx: 0n,
  rcx: 0n,
  rdx: 0n,
  rsi: 0n,
  rdi: 0n,
  rsp: 0x7000n,
  rbp: 0n,
  r8: 0n,
  r9: 0n,
  r10: 0n,
  r11: 0n,
  r12: 0n,
  r13: 0n,
  r14: 0n,
  r15: 0n,
  rip: 0xfff0n,
  rflags: 0x2n,
});

const seg = (selector: number, base: bigint): KvmSegment => ({
  base,
  limit: 0xffff,
  selector,
  type: 0xb,
  present: 1,
  dpl: 0,
  db: 0,
  s: 1,
  l: 0,
  g: 0,
  avl: 0,
  unusable: 0,
});

const resetSregs = (): KvmSregs => ({
  cs: seg(0xf000, 0xffff0000n),
  ds: seg(0, 0n),
  es: seg(0, 0n),
  fs: seg(0, 0n),
  gs: seg(0, 0n),
  ss: seg(0, 0n),
  tr: seg(0, 0n),
  ldt: seg(0, 0n),
  gdt: { base: 0n, limit: 0xffff },
  idt: { base: 0n, limit: 0xffff },
  cr0: 0x60000010n,
  cr2: 0n,
  cr3: 0x9000n,
  cr4: 0x20n,
  cr8: 0n,
  efer: 0x500n,
  apic_base: 0xfee00900n,
  interrupt_bitmap: [0n, 0n, 0n, 0n],
});

test("the dump shows RIP, RSP, RFLAGS, control registers, EFER and segment bases in hex", () => {
  const dump = formatRegisterDump(1, zeroRegs(), resetSregs());

  expect(dump.split("\n")[0]).toBe("vCPU 1 registers:");
  expect(dump).toContain("RIP=000000000000fff0 RFLAGS=0000000000000002");
  expect(dump).toContain("RSP=0000000000007000");
  expect(dump).toContain("CS  sel=f000 base=00000000ffff0000 limit=0000ffff");
  expect(dump).toContain(
    "CR0=0000000060000010 CR2=0000000000000000 CR3=0000000000009000 CR4=0000000000000020",
  );
  expect(dump).toContain("EFER=0000000000000500");
});
