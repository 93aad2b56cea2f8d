// The ELF vmlinux inside the Debian bzImage of build/guest/generic (extracted as the kernel's
// scripts/extract-vmlinux does: find the xz stream's magic, decompress it), loaded as `crosvm run vmlinux` loads it.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupX86Boot } from "../../../src/arch/x86_64/boot.ts";
import { guestMemory } from "./fake_kernels.ts";

const KERNEL = `${import.meta.dir}/../../../build/guest/generic/bzImage`;
const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00);

/** The vmlinux inside `bzImage` (an xz-compressed payload, as Debian builds it), or undefined without xz. */
function extractVmlinux(bzImage: string): string | undefined {
  if (!Bun.which("xz")) return undefined;
  const file = readFileSync(bzImage);
  const at = file.indexOf(XZ_MAGIC);
  if (at < 0) return undefined;
  const out = Bun.spawnSync(["xz", "-dc", "--single-stream"], { stdin: file.subarray(at) });
  if (out.exitCode !== 0) return undefined;
  const path = join(mkdtempSync(join(tmpdir(), "vmlinux-")), "vmlinux");
  writeFileSync(path, out.stdout);
  return path;
}

const vmlinux = existsSync(KERNEL) ? extractVmlinux(KERNEL) : undefined;

describe.skipIf(vmlinux === undefined)("Debian vmlinux (ELF) from build/guest/generic", () => {
  test("loads as ELF: entry at its physical start, each PT_LOAD at its physical address", () => {
    const mem = guestMemory(512);
    const boot = setupX86Boot(mem, { kernel: vmlinux!, cmdline: "console=ttyS0", cpus: 1, physAddrBits: 40 });
    const elf = readFileSync(vmlinux!);
    const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
    const phoff = Number(dv.getBigUint64(0x20, true));

    expect(boot.kernelType).toBe("ELF");
    expect(boot.entry).toBe(Number(dv.getBigUint64(0x18, true)));
    // The first PT_LOAD (the kernel's text) is in guest memory at its p_paddr.
    const offset = Number(dv.getBigUint64(phoff + 8, true));
    const paddr = Number(dv.getBigUint64(phoff + 24, true));
    expect(mem.read(paddr, 4096)).toEqual(new Uint8Array(elf.subarray(offset, offset + 4096)));
  });
});
