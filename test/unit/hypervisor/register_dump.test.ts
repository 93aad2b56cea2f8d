import { expect, test } from "bun:test";
import type { KvmRegs } from "../../../ffi/kvm_types.ts";
import { formatRegisterDump } from "../../../src/hypervisor/register_dump.ts";
import { resetSregs } from "../fixtures/sregs.ts";

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

const bootedSregs = () => resetSregs({ cr3: 0x9000n, cr4: 0x20n, efer: 0x500n });

test("the dump shows RIP, RSP, RFLAGS, control registers, EFER and segment bases in hex", () => {
  const dump = formatRegisterDump(1, zeroRegs(), bootedSregs());

  expect(dump.split("\n")[0]).toBe("vCPU 1 registers:");
  expect(dump).toContain("RIP=000000000000fff0 RFLAGS=0000000000000002");
  expect(dump).toContain("RSP=0000000000007000");
  expect(dump).toContain("CS  sel=f000 base=00000000ffff0000 limit=0000ffff");
  expect(dump).toContain(
    "CR0=0000000060000010 CR2=0000000000000000 CR3=0000000000009000 CR4=0000000000000020",
  );
  expect(dump).toContain("EFER=0000000000000500");
});
