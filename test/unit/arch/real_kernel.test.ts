// Loads the Debian kernel the guest-image build step leaves in build/guest/generic, when it is there.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { HDR } from "../../../src/arch/x86_64/boot_params.ts";
import { LeBytes } from "../../../src/arch/x86_64/bytes.ts";
import { setupX86Boot } from "../../../src/arch/x86_64/boot.ts";
import { KERNEL_START } from "../../../src/arch/x86_64/layout.ts";
import { guestMemory } from "./fake_kernels.ts";

const KERNEL = `${import.meta.dir}/../../../build/guest/generic/bzImage`;
const INITRD = `${import.meta.dir}/../../../build/guest/generic/initrd.img`;

describe.skipIf(!existsSync(KERNEL) || !existsSync(INITRD))("Debian kernel from build/guest/generic", () => {
  test("boots setup: payload at 0x200000, entry at startup_64, initrd above the decompression area", () => {
    const mem = guestMemory(512);
    const boot = setupX86Boot(mem, {
      kernel: KERNEL,
      initrd: INITRD,
      cmdline: "console=ttyS0",
      cpus: 2,
      physAddrBits: 40,
    });
    const file = readFileSync(KERNEL);
    const setupSize = ((file[HDR.setup_sects] || 4) + 1) * 512;
    expect(boot.kernelType).toBe("bzImage");
    expect(boot.entry).toBe(KERNEL_START + 0x200);
    expect(mem.read(KERNEL_START, 4096)).toEqual(new Uint8Array(file.subarray(setupSize, setupSize + 4096)));
    const hdr = new LeBytes(mem.read(0x7000, 4096));
    expect(hdr.u16(HDR.version)).toBeGreaterThanOrEqual(0x020c);
    expect(boot.initrd!.addr).toBeGreaterThanOrEqual(0x100_0000 + hdr.u32(HDR.init_size));
  });
});
