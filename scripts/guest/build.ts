// Builds the e2e guest images into build/guest/ (only what is missing or out of date):
//   build/guest/<flavour>/bzImage      Debian's kernel (generic: linux-image-amd64's dependency; cloud: -cloud-amd64)
//   build/guest/<flavour>/initrd.img   gzip'd newc initramfs: busybox, /init, the agent, virtio modules
//   build/guest/rig/outer-qemu.cpio    with --rig: the outer rig VM's initramfs carrying QEMU as nested VMM
// Usage: bun run scripts/guest/build.ts [--rig]
import { mkdirSync } from "node:fs";
import { writeAtomically } from "./atomic_write.ts";
import { cpioNewc, withParentDirs } from "./cpio.ts";
import { ensureKernel, modulesDir } from "./debian_kernel.ts";
import { baseEntries, isStale } from "./initramfs.ts";
import { guestModules } from "./modules.ts";
import { flavourPaths, kernelFlavours, type KernelFlavour } from "./paths.ts";
import { guestToolEntries } from "./tools.ts";
import { ensureRigImage } from "./rig/outer_image.ts";

async function ensureGuestInitrd(flavour: KernelFlavour): Promise<void> {
  const paths = flavourPaths(flavour);
  if (!isStale(paths.initrd, [paths.packageStamp])) return;
  const { entries, missing } = await baseEntries(modulesDir(flavour), guestModules);
  if (missing.length > 0) console.log(`guest: the ${flavour} kernel has no ${missing.join(", ")}; left out`);
  entries.push(...(await guestToolEntries()));
  const archive = await new Blob(cpioNewc(withParentDirs(entries))).bytes();
  await writeAtomically(paths.initrd, Bun.gzipSync(archive, { level: 6 }));
  console.log(`guest: wrote ${paths.initrd}`);
}

/** Downloads the kernels and builds both flavours' initramfs where missing or stale. */
export async function ensureGuestImages(): Promise<void> {
  for (const flavour of kernelFlavours) {
    mkdirSync(flavourPaths(flavour).dir, { recursive: true });
    ensureKernel(flavour);
    await ensureGuestInitrd(flavour);
  }
}

if (import.meta.main) {
  await ensureGuestImages();
  if (process.argv.includes("--rig")) {
    const image = await ensureRigImage("qemu", "/usr/bin/qemu-system-x86_64");
    console.log(`guest: rig image ${image}`);
  }
  for (const flavour of kernelFlavours) {
    const paths = flavourPaths(flavour);
    console.log(`${flavour}: ${paths.bzImage} ${paths.initrd}`);
  }
}
