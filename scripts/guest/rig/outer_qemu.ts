// The outer rig VM's QEMU command line (shared/notes/kvm-here.md): TCG emulating an AMD EPYC with SVM on q35, the
// generic Debian kernel with the rig initramfs, its serial ports on host FIFO pairs (QEMU `pipe` chardevs:
// base.in / base.out), ttyS0 first, and optionally named virtio-serial ports on FIFO pairs too (one
// virtio-serial-pci device; the outer kernel's virtio_console driver gives them as /dev/vportNpM, and the rig's
// /etc/rc links them as /dev/virtio-ports/NAME, as udev would). Used by the e2e rig (test/e2e/harness/rig.ts)
// and the benchmarks' outer VM.
import { flavourPaths } from "../paths.ts";

export interface OuterQemuOptions {
  /** The outer initramfs (ensureRigImage / ensureRigImageWith). */
  image: string;
  /** Outer kernel command line. */
  append: string;
  /** FIFO base paths of ttyS0, ttyS1, ... in order. */
  serialBases: readonly string[];
  /** Memory in MiB; default 2048. */
  memMiB?: number;
  /** vCPUs (QEMU TCG threads); default 2. */
  cpus?: number;
  /** A host folder shared over 9p with mount tag "scratch". */
  scratchDir?: string;
  /** virtio-serial ports: name (as the outer VM sees it) and FIFO base path of each. */
  virtioPorts?: readonly VirtioPort[];
}

export interface VirtioPort {
  name: string;
  base: string;
}

/**
 * One virtio-serial-pci device carrying `ports`, numbered from 1 (port 0 is the console port of the virtio
 * console spec, 5.3.6, which `virtserialport` devices do not use).
 */
export function virtioPortArgs(ports: readonly VirtioPort[]): string[] {
  if (ports.length === 0) return [];
  return [
    ...["-device", "virtio-serial-pci,id=vser"],
    ...ports.flatMap((port, i) => [
      ...["-chardev", `pipe,id=vport${i + 1},path=${port.base}`],
      ...["-device", `virtserialport,bus=vser.0,nr=${i + 1},chardev=vport${i + 1},name=${port.name}`],
    ]),
  ];
}

export function outerQemuCommand(opts: OuterQemuOptions): string[] {
  return [
    "qemu-system-x86_64",
    ...["-accel", "tcg", "-cpu", "EPYC,+svm", "-M", "q35"],
    ...["-m", `${opts.memMiB ?? 2048}`, "-smp", `${opts.cpus ?? 2}`],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
    ...["-kernel", flavourPaths("generic").bzImage, "-initrd", opts.image],
    ...["-append", opts.append],
    ...opts.serialBases.flatMap((base, i) => [
      "-chardev",
      `pipe,id=com${i},path=${base}`,
      "-serial",
      `chardev:com${i}`,
    ]),
    ...(opts.scratchDir
      ? ["-virtfs", `local,path=${opts.scratchDir},mount_tag=scratch,security_model=none`]
      : []),
    ...virtioPortArgs(opts.virtioPorts ?? []),
  ];
}
