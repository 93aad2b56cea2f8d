import { describe, expect, test } from "bun:test";
import { BP, HDR, readE820 } from "../../../src/arch/x86_64/boot_params.ts";
import { X86BootError, setupX86Boot, type X86BootOptions } from "../../../src/arch/x86_64/boot.ts";
import { LeBytes } from "../../../src/arch/x86_64/bytes.ts";
import { e820Map } from "../../../src/arch/x86_64/e820.ts";
import { MIB, ZERO_PAGE_ADDR } from "../../../src/arch/x86_64/layout.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { fakeBzImage, guestMemory } from "./fake_kernels.ts";
import { resetSregs } from "../fixtures/sregs.ts";

const options = (o: Partial<X86BootOptions> = {}): X86BootOptions => ({
  kernel: fakeBzImage(),
  cmdline: "panic=-1 console=ttyS0",
  cpus: 2,
  physAddrBits: 40,
  ...o,
});
const zeroPage = (mem: GuestMemory) => new LeBytes(mem.read(ZERO_PAGE_ADDR, 4096));

describe("setupX86Boot", () => {
  test("returns the bzImage entry in RIP and the zero page in RSI", () => {
    const boot = setupX86Boot(guestMemory(64), options());
    expect(boot.entry).toBe(0x200200);
    expect([boot.regs.rip, boot.regs.rsi]).toEqual([0x200200n, 0x7000n]);
  });

  test("writes the command line at 0x20000 and points boot_params at it", () => {
    const mem = guestMemory(64);
    setupX86Boot(mem, options());
    const line = "panic=-1 console=ttyS0";
    expect(new TextDecoder().decode(mem.read(0x20000, line.length + 1))).toBe(`${line}\0`);
    expect(zeroPage(mem).u32(HDR.cmd_line_ptr)).toBe(0x20000);
  });

  test("keeps the kernel's setup header and marks the loader in the zero page", () => {
    const mem = guestMemory(64);
    setupX86Boot(mem, options());
    const zp = zeroPage(mem);
    expect(zp.u16(HDR.version)).toBe(0x020f);
    expect(zp.u8(HDR.type_of_loader)).toBe(0xff);
  });

  test("fills the e820 table for the guest's memory size", () => {
    const mem = guestMemory(64);
    setupX86Boot(mem, options());
    expect(readE820(mem.read(ZERO_PAGE_ADDR, 4096))).toEqual(e820Map(64 * MIB));
  });

  test("reports the kernel's range: from its load address to the end of its decompression area (pref_address + init_size)", () => {
    const boot = setupX86Boot(guestMemory(64), options({ kernel: fakeBzImage({ initSize: 3 * MIB }) }));

    expect(boot.kernelRange).toEqual({ start: 0x20_0000, end: 16 * MIB + 3 * MIB });
  });

  test("places the initrd high and records it", () => {
    const mem = guestMemory(64);
    const initrd = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    const boot = setupX86Boot(mem, options({ initrd }));
    const zp = zeroPage(mem);
    expect(zp.u32(HDR.ramdisk_image)).toBe(boot.initrd!.addr);
    expect(zp.u32(HDR.ramdisk_size)).toBe(10_000);
    expect(mem.read(boot.initrd!.addr, 10_000)).toEqual(initrd);
  });

  test("links an RNG seed into setup_data", () => {
    const mem = guestMemory(64);
    setupX86Boot(mem, options());
    const head = Number(zeroPage(mem).u64(HDR.setup_data));
    expect(head).toBe(0x20800);
    expect([mem.readU64(head), mem.readU32(head + 8), mem.readU32(head + 12)]).toEqual([0n, 9, 256]);
  });

  test("writes the MP table and the ACPI tables", () => {
    const mem = guestMemory(64);
    const boot = setupX86Boot(mem, options());
    expect(new TextDecoder().decode(mem.read(0x9fff0, 4))).toBe("_MP_");
    expect(new TextDecoder().decode(mem.read(boot.acpi.rsdp, 8))).toBe("RSD PTR ");
  });

  test("sets up paging and long mode in the returned sregs", () => {
    const mem = guestMemory(64);
    const boot = setupX86Boot(mem, options());
    const s = boot.sregs(resetSregs());
    expect(s.cr3).toBe(0x9000n);
    expect(mem.readU64(0x9000)).toBe(0xa003n);
    expect(s.efer).toBe(0x500n);
  });

  test("returns the MSRs and the KVM identity-map and TSS addresses", () => {
    const boot = setupX86Boot(guestMemory(64), options());
    expect(boot.msrs.some((m) => m.index === 0x2ff)).toBe(true);
    expect([boot.identityMapAddr, boot.tssAddr]).toEqual([0xfeff_c000, 0xfeff_d000]);
  });

  test("refuses a command line longer than the kernel accepts", () => {
    expect(() =>
      setupX86Boot(guestMemory(64), options({ kernel: fakeBzImage({ cmdlineSize: 10 }) })),
    ).toThrow(/kernel command line is 22 bytes; the kernel accepts at most 10/);
  });

  test("refuses memory that does not follow the x86-64 layout", () => {
    const mem = GuestMemory.anonymous([{ guestAddr: 0x10_0000, size: 64 * MIB }]);
    expect(() => setupX86Boot(mem, options())).toThrow(X86BootError);
  });

  test("ext_cmd_line_ptr stays 0", () => {
    const mem = guestMemory(64);
    setupX86Boot(mem, options());
    expect(zeroPage(mem).u32(BP.ext_cmd_line_ptr)).toBe(0);
  });
});

describe("setupX86Boot errors", () => {
  test("a missing kernel file is named in a one-line error", () => {
    expect(() => setupX86Boot(guestMemory(64), options({ kernel: "/nonexistent/vmlinuz" }))).toThrow(
      /^kernel image \/nonexistent\/vmlinuz: cannot open \(.*\)$/,
    );
  });

  test("a bad in-memory kernel is reported as such", () => {
    expect(() => setupX86Boot(guestMemory(64), options({ kernel: new Uint8Array(4096) }))).toThrow(
      /^kernel image \(in memory\): not a bzImage or ELF kernel/,
    );
  });

  test("a missing initrd file is named", () => {
    expect(() => setupX86Boot(guestMemory(64), options({ initrd: "/nonexistent/initrd.img" }))).toThrow(
      /^initrd \/nonexistent\/initrd.img: cannot open/,
    );
  });
});
