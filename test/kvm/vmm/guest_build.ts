// Assembles the kvm-tier test guests (test/kvm/vmm/guests/*.S, GNU as syntax) into flat 64 KiB firmware images
// for `--bios`, with the machine's binutils: `as --32`, then `ld --oformat binary` linked at 0xFFFF0000 so that the
// image ends at 4 GiB. Images are built once per process into a temporary directory. Where the machine has no
// binutils (the kvm tier run inside the nested rig, scripts/kvm_in_rig.ts), CROSVM_KVM_PREBUILT_GUESTS names a
// folder in which every guest was assembled beforehand (prebuildGuests below).
import { $ } from "bun";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const GUESTS = join(import.meta.dir, "guests");
const IMAGE_BASE = "0xffff0000";
let outDir: string | undefined;
const built = new Map<string, Promise<string>>();
const PREBUILT = process.env.CROSVM_KVM_PREBUILT_GUESTS;

/** The prebuilt `file` under CROSVM_KVM_PREBUILT_GUESTS, or an error saying that it is missing. */
async function prebuilt(file: string): Promise<string> {
  const path = join(PREBUILT!, file);
  if (!(await Bun.file(path).exists()))
    throw new Error(
      `${path}: not prebuilt (CROSVM_KVM_PREBUILT_GUESTS is set, and this machine assembles nothing)`,
    );
  return path;
}

/** Path of the flat image for guests/<name>.S. */
export function guestImage(name: string): Promise<string> {
  let p = built.get(name);
  if (!p) {
    p = PREBUILT
      ? prebuilt(`${name}.bin`)
      : (async () => {
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
    p = PREBUILT
      ? prebuilt(`${name}.elf`)
      : (async () => {
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

/**
 * Assembles every guest in both forms into `dir` (a source that is not valid in one form is skipped in that form)
 * and returns how many images were written. For a machine without binutils: see CROSVM_KVM_PREBUILT_GUESTS.
 */
export async function prebuildGuests(dir: string): Promise<number> {
  let count = 0;
  for (const source of new Bun.Glob("*.S").scanSync(GUESTS)) {
    const name = source.slice(0, -2);
    for (const [build, file] of [
      [guestImage, `${name}.bin`],
      [kernelImage, `${name}.elf`],
    ] as const) {
      try {
        await Bun.write(join(dir, file), Bun.file(await build(name)));
        count++;
      } catch {
        // Not assemblable in this form (a 64-bit kernel as 32-bit firmware, or the reverse).
      }
    }
  }
  return count;
}
