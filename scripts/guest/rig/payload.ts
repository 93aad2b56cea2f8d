// Files carried into the outer rig VM: the nested VMM executable with the shared libraries `ldd` lists
// (placed at the same absolute paths, so the dynamic loader finds them), and QEMU's firmware when the nested
// VMM is QEMU.
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { run } from "../run.ts";

export interface PayloadFile {
  /** Absolute path inside the outer VM. */
  guestPath: string;
  /** Host file to copy (symlinks resolved). */
  hostPath: string;
  mode: number;
}

/** The absolute library paths in `ldd` output ("libz.so.1 => /lib/.../libz.so.1 (0x..)", "/lib64/ld-linux..."). */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split("\n")) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (match?.[1]) paths.push(match[1]);
  }
  return paths;
}

export function executableWithLibraries(hostPath: string, guestPath: string): PayloadFile[] {
  const ldd = run(["ldd", hostPath], { allowFailure: true });
  const libs = ldd.exitCode === 0 ? parseLdd(ldd.stdout) : [];
  return [
    { guestPath, hostPath: realpathSync(hostPath), mode: 0o755 },
    ...libs.map((lib) => ({ guestPath: lib, hostPath: realpathSync(lib), mode: 0o755 })),
  ];
}

/** Firmware QEMU loads for `-M pc`/`q35`/`microvm` with `-kernel` and -nodefaults (Debian: seabios, qemu-system-data). */
const qemuFirmware = [
  "bios-256k.bin",
  "bios.bin",
  "bios-microvm.bin",
  "qboot.rom",
  "linuxboot.bin",
  "linuxboot_dma.bin",
  "kvmvapic.bin",
  "multiboot.bin",
  "multiboot_dma.bin",
  "pvh.bin",
];

/** Debian builds QEMU with --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu. */
const qemuFirmwarePath = ["/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"];

function firmwareFile(name: string): PayloadFile {
  const dir = qemuFirmwarePath.find((d) => existsSync(join(d, name)));
  if (!dir)
    throw new Error(`QEMU firmware ${name} not found in ${qemuFirmwarePath.join(":")}; install seabios`);
  return { guestPath: join(dir, name), hostPath: realpathSync(join(dir, name)), mode: 0o644 };
}

/**
 * virtiofsd, the vhost-user virtio-fs back end QEMU's vhost-user-fs-pci talks to (Debian's qemu-system-common ships
 * it); bench/fs starts it in the outer VM next to QEMU.
 */
export const virtiofsdPath = "/usr/lib/qemu/virtiofsd";

export function qemuPayload(qemuPath: string): PayloadFile[] {
  return [
    ...executableWithLibraries(qemuPath, "/usr/bin/qemu-system-x86_64"),
    ...(existsSync(virtiofsdPath) ? executableWithLibraries(virtiofsdPath, virtiofsdPath) : []),
    ...qemuFirmware.map(firmwareFile),
  ];
}
