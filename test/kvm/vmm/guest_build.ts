// Assembles the kvm-tier test guests (test/kvm/vmm/guests/*.S, GNU as syntax) into flat 64 KiB firmware images
// for `--bios`, with the machine's binutils: `as --32`, then `ld --oformat binary` linked at 0xFFFF0000 so that the
// image ends at 4 GiB. Images are built once per process into a temporary directory.
import { $ } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GUESTS = join(import.meta.dir, "guests");
const IMAGE_BASE = "0xffff0000";
let outDir: string | undefined;
const built = new Map<string, Promise<string>>();

/** Path of the flat image for guests/<name>.S. */
export function guestImage(name: string): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = (async () => {
      outDir ??= mkdtempSync(join(tmpdir(), "crosvm-guests-"));
      const obj = join(outDir, `${name}.o`);
      const img = join(outDir, `${name}.bin`);
      await $`as --32 -I ${GUESTS} -o ${obj} ${join(GUESTS, `${name}.S`)}`.quiet();
      await $`ld -m elf_i386 -Ttext=${IMAGE_BASE} --oformat binary -o ${img} ${obj}`.quiet();
      return img;
    })();
    built.set(name, p);
  }
  return p;
}

const builtKernels = new Map<string, Promise<string>>();

/** Path of an ELF64 "kernel" built from guests/<name>.S, its one PT_LOAD segment at 2 MiB (crosvm's KERNEL_START). */
export function kernelImage(name: string): Promise<string> {
  let p = builtKernels.get(name);
  if (!p) {
    p = (async () => {
      outDir ??= mkdtempSync(join(tmpdir(), "crosvm-guests-"));
      const obj = join(outDir, `${name}.o`);
      const elf = join(outDir, `${name}.elf`);
      await $`as --64 -o ${obj} ${join(GUESTS, `${name}.S`)}`.quiet();
      // -n (nmagic): no page-aligned ELF-header segment below the text, which would land under 2 MiB.
      await $`ld -m elf_x86_64 -n -Ttext=0x200000 -e _start -o ${elf} ${obj}`.quiet();
      return elf;
    })();
    builtKernels.set(name, p);
  }
  return p;
}
