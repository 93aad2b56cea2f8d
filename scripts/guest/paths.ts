// Where the guest and rig images are built. build/ is gitignored; everything under it can be rebuilt.
import { join, resolve } from "node:path";

export type KernelFlavour = "generic" | "cloud";
export const kernelFlavours: readonly KernelFlavour[] = ["generic", "cloud"];

export const repoRoot = resolve(import.meta.dir, "../..");
export const guestBuildDir = join(repoRoot, "build/guest");
export const guestSourceDir = import.meta.dir;

/** Files of one kernel flavour: the unpacked Debian package, its bzImage and our initramfs for it. */
export interface FlavourPaths {
  dir: string;
  /** The versioned Debian package the kernel came from, e.g. linux-image-6.1.0-56-amd64. */
  packageStamp: string;
  /** `dpkg-deb -x` of that package. */
  unpackedRoot: string;
  bzImage: string;
  initrd: string;
}

export function flavourPaths(flavour: KernelFlavour): FlavourPaths {
  const dir = join(guestBuildDir, flavour);
  return {
    dir,
    packageStamp: join(dir, "package.txt"),
    unpackedRoot: join(dir, "root"),
    bzImage: join(dir, "bzImage"),
    initrd: join(dir, "initrd.img"),
  };
}

export const rigBuildDir = join(guestBuildDir, "rig");
