import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDR, KERNEL_ALIGNMENT, XLF_KERNEL_64 } from "../../../src/arch/x86_64/boot_params.ts";
import { LeBytes } from "../../../src/arch/x86_64/bytes.ts";
import { imageFromBytes, imageFromFile } from "../../../src/arch/x86_64/image_source.ts";
import {
  InitrdLoadError,
  KernelLoadError,
  loadInitrd,
  loadKernel,
} from "../../../src/arch/x86_64/kernel_loader.ts";
import { FIRST_ADDR_PAST_32BITS, KERNEL_START, MIB } from "../../../src/arch/x86_64/layout.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { fakeBzImage, fakeElf, guestMemory } from "./fake_kernels.ts";

const kernel = (bytes: Uint8Array) => imageFromBytes("bzImage", bytes);

describe("bzImage loading", () => {
  test("the protected-mode payload lands at 0x200000", () => {
    const payload = Uint8Array.from({ length: 8192 }, (_, i) => i & 0xff);
    const mem = guestMemory(64);
    loadKernel(mem, kernel(fakeBzImage({ payload })));
    expect(mem.read(KERNEL_START, payload.length)).toEqual(payload);
  });

  test("the entry point is 0x200 past the load address", () => {
    const loaded = loadKernel(guestMemory(64), kernel(fakeBzImage()));
    expect(loaded.type).toBe("bzImage");
    expect(loaded.entry).toBe(0x200200);
  });

  test("the setup header is copied into boot_params at 0x1f1", () => {
    const image = fakeBzImage({ setupSects: 7, initrdAddrMax: 0x3fff_ffff });
    const { params } = loadKernel(guestMemory(64), kernel(image));
    expect(params.subarray(0x1f1, HDR.end)).toEqual(image.subarray(0x1f1, HDR.end));
    expect(new LeBytes(params).u16(HDR.version)).toBe(0x020f);
  });

  test("bytes outside the setup header stay zero", () => {
    const image = fakeBzImage();
    image[0x100] = 0x55;
    const { params } = loadKernel(guestMemory(64), kernel(image));
    expect(params[0x100]).toBe(0);
    expect(params.subarray(HDR.end).every((b) => b === 0)).toBe(true);
  });

  test("setup_sects 0 means 4 sectors", () => {
    const payload = Uint8Array.from({ length: 512 }, () => 0xab);
    const mem = guestMemory(64);
    loadKernel(mem, kernel(fakeBzImage({ setupSects: 0, payload })));
    expect(mem.readU8(KERNEL_START)).toBe(0xab);
  });

  test("the command line limit comes from cmdline_size", () => {
    expect(loadKernel(guestMemory(64), kernel(fakeBzImage({ cmdlineSize: 1000 }))).cmdlineMax).toBe(1000);
  });

  test("a kernel loadable above 4 GiB has no initrd address limit", () => {
    const loaded = loadKernel(guestMemory(64), kernel(fakeBzImage()));
    expect(loaded.initrdAddrMax).toBe(Number.MAX_SAFE_INTEGER);
  });

  test("otherwise the initrd limit is initrd_addr_max", () => {
    const loaded = loadKernel(
      guestMemory(64),
      kernel(fakeBzImage({ xloadflags: XLF_KERNEL_64, initrdAddrMax: 0x1fff_ffff })),
    );
    expect(loaded.initrdAddrMax).toBe(0x1fff_ffff);
  });

  test("the kernel's extent covers decompression at the aligned output address", () => {
    const loaded = loadKernel(guestMemory(64), kernel(fakeBzImage({ initSize: 0x200_0000 })));
    expect(loaded.end).toBe(KERNEL_ALIGNMENT + 0x200_0000);
  });

  test("loads from a file path", () => {
    const dir = mkdtempSync(join(tmpdir(), "arch-test-"));
    const path = join(dir, "vmlinuz");
    writeFileSync(path, fakeBzImage());
    const image = imageFromFile(path);
    try {
      expect(loadKernel(guestMemory(64), image).entry).toBe(0x200200);
    } finally {
      image.close();
    }
  });
});

describe("bad kernel images", () => {
  const load =
    (bytes: Uint8Array, memMib = 64) =>
    () =>
      loadKernel(guestMemory(memMib), kernel(bytes));

  test("random bytes are neither ELF nor bzImage", () => {
    expect(load(new Uint8Array(4096).fill(0x11))).toThrow(
      'kernel image bzImage: not a bzImage or ELF kernel (no ELF magic, no "HdrS" at 0x202)',
    );
  });

  test("a tiny file is refused", () => {
    expect(load(new Uint8Array(3))).toThrow(/only 3 bytes/);
  });

  test("a file cut inside the setup header is truncated", () => {
    expect(load(fakeBzImage().subarray(0, 0x220))).toThrow(/truncated: the setup header/);
  });

  test("a file shorter than setup_sects and syssize say is truncated", () => {
    expect(load(fakeBzImage().subarray(0, 3000))).toThrow(/truncated: setup_sects and syssize say/);
  });

  test("a protocol older than 2.12 is refused", () => {
    expect(load(fakeBzImage({ version: 0x020a }))).toThrow(/boot protocol 2.10\) has no 64-bit entry point/);
  });

  test("a kernel without XLF_KERNEL_64 is refused", () => {
    expect(load(fakeBzImage({ xloadflags: 0 }))).toThrow(/no 64-bit entry point/);
  });

  test("a kernel larger than RAM is refused", () => {
    expect(load(fakeBzImage({ payload: new Uint8Array(3 * MIB) }), 4)).toThrow(
      /does not fit in guest RAM at 0x200000/,
    );
  });

  test("every error is one line naming the image", () => {
    try {
      load(fakeBzImage({ xloadflags: 0 }))();
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(KernelLoadError);
      expect((e as Error).message.startsWith("kernel image bzImage: ")).toBe(true);
      expect((e as Error).message).not.toContain("\n");
    }
  });
});

describe("ELF loading", () => {
  const text = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);

  test("each PT_LOAD segment is copied to its p_paddr", () => {
    const mem = guestMemory(64);
    const data = Uint8Array.of(1, 2, 3, 4);
    loadKernel(
      mem,
      imageFromBytes(
        "vmlinux",
        fakeElf(
          [
            { paddr: 0x100_0000, data: text },
            { paddr: 0x180_0000, data },
          ],
          0x100_0000,
        ),
      ),
    );
    expect(mem.read(0x100_0000, text.length)).toEqual(text);
    expect(mem.read(0x180_0000, 4)).toEqual(data);
  });

  test("the entry point is e_entry", () => {
    const loaded = loadKernel(
      guestMemory(64),
      imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text }], 0x100_0010)),
    );
    expect(loaded.type).toBe("ELF");
    expect(loaded.entry).toBe(0x100_0010);
  });

  test("memory past p_filesz up to p_memsz is zeroed", () => {
    const mem = guestMemory(64);
    mem.write(0x100_0100, Uint8Array.of(9, 9, 9));
    loadKernel(
      mem,
      imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text, memsz: 0x200 }], 0x100_0000)),
    );
    expect(mem.read(0x100_0100, 3)).toEqual(new Uint8Array(3));
  });

  test("segments that are not PT_LOAD are skipped", () => {
    const mem = guestMemory(64);
    loadKernel(
      mem,
      imageFromBytes(
        "vmlinux",
        fakeElf(
          [
            { paddr: 0x100_0000, data: text },
            { paddr: 0x300_0000, data: text, type: 4 },
          ],
          0x100_0000,
        ),
      ),
    );
    expect(mem.readU8(0x300_0000)).toBe(0);
  });

  test("the extent spans the loaded segments", () => {
    const loaded = loadKernel(
      guestMemory(64),
      imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text, memsz: 0x1000 }], 0x100_0000)),
    );
    expect([loaded.start, loaded.end]).toEqual([0x100_0000, 0x100_1000]);
  });

  test("an entry point outside the segments is refused", () => {
    expect(() =>
      loadKernel(
        guestMemory(64),
        imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text }], 0x50_0000)),
      ),
    ).toThrow(/entry point 0x500000 is outside the loaded segments/);
  });

  test("a segment below the kernel start is refused", () => {
    expect(() =>
      loadKernel(
        guestMemory(64),
        imageFromBytes("vmlinux", fakeElf([{ paddr: 0x1000, data: text }], 0x1000)),
      ),
    ).toThrow(/below the kernel start/);
  });

  test("a segment past the end of RAM is refused", () => {
    expect(() =>
      loadKernel(
        guestMemory(16),
        imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text, memsz: 32 * MIB }], 0x100_0000)),
      ),
    ).toThrow(/does not fit in guest RAM/);
  });

  test("an ELF for another machine is refused", () => {
    expect(() =>
      loadKernel(
        guestMemory(64),
        imageFromBytes("vmlinux", fakeElf([{ paddr: 0x100_0000, data: text }], 0x100_0000, 183)),
      ),
    ).toThrow(/not x86-64/);
  });

  test("a 32-bit ELF is refused", () => {
    const elf = fakeElf([{ paddr: 0x100_0000, data: text }], 0x100_0000);
    elf[4] = 1;
    expect(() => loadKernel(guestMemory(64), imageFromBytes("vmlinux", elf))).toThrow(/not 64-bit/);
  });

  test("a truncated program header table is refused", () => {
    const elf = fakeElf([{ paddr: 0x100_0000, data: text }], 0x100_0000);
    expect(() => loadKernel(guestMemory(64), imageFromBytes("vmlinux", elf.subarray(0, 80)))).toThrow(
      /truncated: the program header table/,
    );
  });
});

describe("initrd placement", () => {
  const initrd = (size: number) =>
    imageFromBytes(
      "initrd.img",
      Uint8Array.from({ length: size }, (_, i) => (i % 251) + 1),
    );

  test("goes to the top of RAM, page-aligned", () => {
    const mem = guestMemory(64);
    const placed = loadInitrd(mem, initrd(10_000), 0x40_0000, Number.MAX_SAFE_INTEGER);
    expect(placed.addr % 4096).toBe(0);
    expect(placed.addr + placed.size).toBeLessThanOrEqual(64 * MIB);
    expect(64 * MIB - (placed.addr + placed.size)).toBeLessThan(4096);
    expect(mem.read(placed.addr, 3)).toEqual(Uint8Array.of(1, 2, 3));
  });

  test("stays at or below initrd_addr_max", () => {
    const placed = loadInitrd(guestMemory(64), initrd(10_000), 0x40_0000, 0x1ff_ffff);
    expect(placed.addr + placed.size - 1).toBeLessThanOrEqual(0x1ff_ffff);
    expect(placed.addr % 4096).toBe(0);
  });

  test("uses RAM above 4 GiB when the kernel allows it", () => {
    // A sparse stand-in for a 3.25 GiB + 16 MiB guest: only the first and the high region matter here.
    const mem = GuestMemory.anonymous([
      { guestAddr: 0, size: 64 * MIB },
      { guestAddr: FIRST_ADDR_PAST_32BITS, size: 16 * MIB },
    ]);
    const placed = loadInitrd(mem, initrd(4096 * 3), 0x40_0000, Number.MAX_SAFE_INTEGER);
    expect(placed.addr).toBeGreaterThanOrEqual(FIRST_ADDR_PAST_32BITS);
  });

  test("an initrd that does not fit above the kernel is refused", () => {
    expect(() => loadInitrd(guestMemory(16), initrd(8 * MIB), 12 * MIB, Number.MAX_SAFE_INTEGER)).toThrow(
      InitrdLoadError,
    );
  });

  test("an empty initrd is refused", () => {
    expect(() => loadInitrd(guestMemory(16), initrd(0), 0, Number.MAX_SAFE_INTEGER)).toThrow(
      "initrd initrd.img: is empty",
    );
  });
});
