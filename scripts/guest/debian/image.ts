// The Debian guest: a bookworm system (systemd, udev, Debian's kernel and initramfs-tools, iproute2) built with
// mmdebstrap from this machine's Debian mirror (apt_sources.ts) into build/guest/debian/:
//   rootfs.img    raw ext4 root file system (the whole disk is the file system: crosvm's root=/dev/vda)
//   rootfs.qcow2  the same as qcow2 (qemu-img convert)
//   vmlinuz, initrd.img   the image's own /boot/vmlinuz-* and the initrd initramfs-tools made for it
// Boot: crosvm run --mem 512 --block rootfs.img,root -i initrd.img -p console=ttyS0 vmlinuz
// The console getty (ttyS0) logs root in without a password; the guest agent runs as crosvm-agent.service on
// ttyS1 when the command line has agent=ttyS1. Made without mounting anything: mmdebstrap into a folder,
// then `mkfs.ext4 -d`. Rebuilt only when missing or older than this folder's files or the agent.
// Usage: bun scripts/guest/debian/image.ts [--force]
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { guestBuildDir, guestSourceDir } from "../paths.ts";
import { run } from "../run.ts";
import { SUITE, mirrorLines } from "./apt_sources.ts";

export const debianDir = join(guestBuildDir, "debian");
export const debianImage = {
  raw: join(debianDir, "rootfs.img"),
  qcow2: join(debianDir, "rootfs.qcow2"),
  kernel: join(debianDir, "vmlinuz"),
  initrd: join(debianDir, "initrd.img"),
};
/** Size of the raw image (sparse): the system takes about a third of it. */
export const IMAGE_MIB = 1024;
export const HOSTNAME = "crosvm-debian";

/**
 * Packages beyond minbase. dbus: systemd-logind needs the system bus; zstd: initramfs-tools' compressor;
 * e2fsprogs: fsck.ext4 (not in minbase), which initramfs-tools' fsck hook puts into the initrd.
 */
export const PACKAGES = [
  "systemd-sysv",
  "udev",
  "dbus",
  "linux-image-amd64",
  "initramfs-tools",
  "zstd",
  "e2fsprogs",
  "iproute2",
];

/**
 * dpkg path filters: no documentation, and of the kernel's modules only what a crosvm guest can use (virtio,
 * block, char, ACPI, input, file systems, networking core). The rest (GPUs, wireless, sound, USB...) is over
 * half of the system's size and of its initrd (initramfs-tools' MODULES=most). `*` matches `/` too in dpkg.
 */
export const DPKG_FILTERS = [
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=*/modules/*/kernel/sound/*",
  "path-exclude=*/modules/*/kernel/drivers/*",
  ...["block", "virtio", "char", "acpi", "input", "md", "nvdimm", "dax"].map(
    (d) => `path-include=*/modules/*/kernel/drivers/${d}/*`,
  ),
  "path-include=*/modules/*/kernel/drivers/net/virtio_net.ko*",
  "path-include=*/modules/*/kernel/drivers/net/net_failover.ko*",
  "path-include=*/modules/*/kernel/drivers/misc/pvpanic/*",
  "path-exclude=*/modules/*/kernel/net/wireless/*",
  "path-exclude=*/modules/*/kernel/net/mac80211/*",
  "path-exclude=*/modules/*/kernel/net/bluetooth/*",
  // KVM inside the guest: its kvm_amd needs ccp (drivers/crypto, left out) and crosvm guests do not nest.
  "path-exclude=*/modules/*/kernel/arch/x86/kvm/*",
];

/** Source files of the image: a change to any of them rebuilds it. */
function sources(): string[] {
  const dir = join(guestSourceDir, "debian");
  return [...readdirSync(dir).map((f) => join(dir, f)), join(guestSourceDir, "rootfs/agent.sh")];
}

export function debianImageIsStale(): boolean {
  const outputs = Object.values(debianImage);
  if (!outputs.every(existsSync)) return true;
  const built = Math.min(...outputs.map((p) => statSync(p).mtimeMs));
  return sources().some((s) => statSync(s).mtimeMs > built);
}

/** mmdebstrap's command line: from `mirrors` into the folder `target`. */
export function mmdebstrapCommand(target: string, mirrors: readonly string[]): string[] {
  const dir = join(guestSourceDir, "debian");
  const hooks = [
    // Before the kernel's postinst builds the initrd: initramfs-tools' fsck hook puts e2fsck in the initrd for
    // the root file system fstab lists with a pass number, and its init checks root before mounting it.
    // Its hook probes the type of a "/" entry on the build machine; FSTYPE=ext4 names it instead.
    `--essential-hook=printf '%s\\n' '/dev/vda / ext4 errors=remount-ro 0 1' > "$1/etc/fstab"`,
    `--essential-hook=mkdir -p "$1/etc/initramfs-tools/conf.d" && echo FSTYPE=ext4 > "$1/etc/initramfs-tools/conf.d/crosvm-root"`,
    `--customize-hook=echo ${HOSTNAME} > "$1/etc/hostname"`,
    `--customize-hook=printf '127.0.0.1 localhost\\n127.0.1.1 ${HOSTNAME}\\n::1 localhost ip6-localhost ip6-loopback\\n' > "$1/etc/hosts"`,
    `--customize-hook=chroot "$1" passwd -d root`,
    // pam_env reads it at every login (minbase has no locales package to write it).
    `--customize-hook=echo LANG=C.UTF-8 > "$1/etc/default/locale"`,
    `--customize-hook=mkdir -p "$1/etc/systemd/system/serial-getty@ttyS0.service.d"`,
    `--customize-hook=copy-in ${join(dir, "autologin.conf")} /etc/systemd/system/serial-getty@ttyS0.service.d`,
    `--customize-hook=copy-in ${join(dir, "crosvm-agent.service")} /etc/systemd/system`,
    `--customize-hook=copy-in ${join(guestSourceDir, "rootfs/agent.sh")} /usr/local/sbin`,
    `--customize-hook=mv "$1/usr/local/sbin/agent.sh" "$1/usr/local/sbin/crosvm-agent" && chmod 755 "$1/usr/local/sbin/crosvm-agent"`,
    `--customize-hook=chroot "$1" systemctl enable crosvm-agent.service`,
  ];
  return [
    "mmdebstrap",
    "--variant=minbase",
    `--include=${PACKAGES.join(",")}`,
    ...DPKG_FILTERS.map((f) => `--dpkgopt=${f}`),
    // A flaky mirror connection is retried rather than failing a build that takes minutes.
    '--aptopt=Acquire::Retries "5"',
    '--aptopt=Acquire::http::Timeout "60"',
    ...hooks,
    SUITE,
    target,
    ...mirrors,
  ];
}

/** Runs a long command with its output on this terminal (mmdebstrap shows its progress), bounded in time. */
async function runShown(cmd: string[], timeoutSec: number): Promise<void> {
  const proc = Bun.spawn(["timeout", "-k", "30", `${timeoutSec}`, ...cmd], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  const status = await proc.exited;
  if (status === 124) throw new Error(`${cmd[0]} took over ${timeoutSec} s; stopped`);
  if (status !== 0) throw new Error(`${cmd[0]} exited with ${status}`);
}

function onlyFile(dir: string, prefix: string): string {
  const found = readdirSync(dir).filter((f) => f.startsWith(prefix));
  if (found.length !== 1)
    throw new Error(`${dir}: expected one ${prefix}*, found ${found.join(", ") || "none"}`);
  return join(dir, found[0]!);
}

/** Builds the Debian image when missing or stale. Prints progress; takes minutes the first time. */
export async function ensureDebianImage(opts: { force?: boolean } = {}): Promise<typeof debianImage> {
  if (!opts.force && !debianImageIsStale()) return debianImage;
  if (process.getuid?.() !== 0)
    throw new Error("building the Debian image needs root (mmdebstrap's root mode)");
  if (!Bun.which("mmdebstrap"))
    throw new Error("mmdebstrap not found: run scripts/setup.sh (apt-get install mmdebstrap)");
  const started = performance.now();
  mkdirSync(debianDir, { recursive: true });
  const stage = join(debianDir, "stage");
  rmSync(stage, { recursive: true, force: true });
  const mirrors = mirrorLines();
  console.log(
    `guest: building the Debian ${SUITE} image with mmdebstrap from ${mirrors.join("; ")} (a few minutes)`,
  );
  try {
    await runShown(mmdebstrapCommand(stage, mirrors), 1200);
    const boot = join(stage, "boot");
    const tmp = (p: string) => `${p}.tmp`;
    run(["cp", onlyFile(boot, "vmlinuz-"), tmp(debianImage.kernel)]);
    run(["cp", onlyFile(boot, "initrd.img-"), tmp(debianImage.initrd)]);
    console.log(`guest: writing ${debianImage.raw} (ext4, ${IMAGE_MIB} MiB) and ${debianImage.qcow2}`);
    rmSync(tmp(debianImage.raw), { force: true });
    run(["truncate", "-s", `${IMAGE_MIB}M`, tmp(debianImage.raw)]);
    run(["mkfs.ext4", "-q", "-F", "-L", "debian-root", "-d", stage, tmp(debianImage.raw)]);
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", tmp(debianImage.raw), tmp(debianImage.qcow2)]);
    for (const path of Object.values(debianImage)) renameSync(tmp(path), path);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  console.log(`guest: Debian image built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return debianImage;
}

if (import.meta.main) {
  const image = await ensureDebianImage({ force: process.argv.includes("--force") });
  for (const [form, path] of Object.entries(image)) console.log(`debian ${form}: ${path}`);
}
