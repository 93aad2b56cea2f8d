// Fetches Debian's kernel for a flavour: resolves the versioned package behind the meta package
// (linux-image-amd64 -> linux-image-6.1.0-NN-amd64), `apt-get download`s it and unpacks it with `dpkg-deb -x`.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flavourPaths, type KernelFlavour } from "./paths.ts";
import { run } from "./run.ts";

const metaPackages: Record<KernelFlavour, string> = {
  generic: "linux-image-amd64",
  cloud: "linux-image-cloud-amd64",
};

function versionedDependency(meta: string): string | undefined {
  const result = run(["apt-cache", "depends", meta], { allowFailure: true });
  const match = /Depends:\s*(linux-image-\S+)/.exec(result.stdout);
  return match?.[1];
}

/** The versioned kernel package of a flavour; runs `apt-get update` once if apt does not know it yet. */
export function resolveKernelPackage(flavour: KernelFlavour): string {
  const meta = metaPackages[flavour];
  let pkg = versionedDependency(meta);
  if (!pkg) {
    console.log(`guest: apt does not know ${meta}; running apt-get update`);
    run(["apt-get", "update", "-q"]);
    pkg = versionedDependency(meta);
  }
  if (!pkg) throw new Error(`apt-cache depends ${meta}: no linux-image-* dependency found`);
  return pkg;
}

/** Downloads and unpacks the flavour's kernel unless it is already there. Returns the package name. */
export function ensureKernel(flavour: KernelFlavour): string {
  const paths = flavourPaths(flavour);
  if (existsSync(paths.packageStamp) && existsSync(paths.bzImage) && existsSync(paths.unpackedRoot)) {
    return readFileSync(paths.packageStamp, "utf8").trim();
  }
  const pkg = resolveKernelPackage(flavour);
  console.log(`guest: downloading ${pkg}`);
  // apt's _apt user cannot write into most folders; a world-writable temp folder avoids its warning.
  const downloadDir = mkdtempSync(join(tmpdir(), "guest-kernel-"));
  try {
    run(["chmod", "0777", downloadDir]);
    run(["apt-get", "download", "-q", pkg], { cwd: downloadDir });
    const deb = readdirSync(downloadDir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg} left no ${pkg}_*.deb in ${downloadDir}`);
    rmSync(paths.unpackedRoot, { recursive: true, force: true });
    mkdirSync(paths.unpackedRoot, { recursive: true });
    run(["dpkg-deb", "-x", join(downloadDir, deb), paths.unpackedRoot]);
  } finally {
    rmSync(downloadDir, { recursive: true, force: true });
  }
  const release = pkg.replace(/^linux-image-/, "");
  copyFileSync(join(paths.unpackedRoot, "boot", `vmlinuz-${release}`), paths.bzImage);
  writeFileSync(paths.packageStamp, pkg);
  return pkg;
}

/** /lib/modules/<release> inside the unpacked package. */
export function modulesDir(flavour: KernelFlavour): string {
  const root = join(flavourPaths(flavour).unpackedRoot, "lib/modules");
  const releases = readdirSync(root);
  if (releases.length !== 1)
    throw new Error(`${root}: expected one kernel release, found ${releases.join(", ")}`);
  return join(root, releases[0]!);
}
