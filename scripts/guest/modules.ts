// Which kernel modules go into an initramfs and the order /init loads them in (dependencies first).
import { readdirSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { moduleDependencies, normalizeModuleName } from "./elf_modinfo.ts";

/** Virtio drivers for a crosvm guest, in the load order of shared/notes/kvm-here.md. */
export const guestModules = [
  "virtio",
  "virtio_ring",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "virtio_blk",
  "virtio_net",
  "virtio_console",
  "virtio_rng",
  "virtio_balloon",
  "virtio_pmem",
  // /dev/pmemN for a virtio-pmem region: the namespace driver, which udev would load by its modalias.
  "nd_pmem",
  "virtio_input",
  "fuse",
  "virtiofs",
  "netfs",
  "9pnet",
  "9pnet_virtio",
  "9p",
  "vsock",
  "vmw_vsock_virtio_transport_common",
  "vmw_vsock_virtio_transport",
  // The ACPI power button (fixed-feature PWRBTN) as a KEY_POWER input event on /dev/input/eventN, for acpid.
  "button",
  "evdev",
  // ext4 for root and data disks (Debian builds it as a module). jbd2 and ext4 checksum with the kernel's
  // "crc32c" crypto hash, a soft dependency modinfo does not list: the generic one is loaded first.
  "crc32c_generic",
  "ext4",
  // crosvm's --pvpanic device (PCI 1b36:0011): the guest reports a panic before it resets.
  "pvpanic",
  "pvpanic-pci",
  // crosvm's --scsi-block (virtio-scsi): SCSI disks as /dev/sdX. sd_mod's crc-t10dif looks up the "crct10dif"
  // hash, a soft dependency modinfo does not list: the generic one is loaded first. sd_mod is loaded before the
  // host driver so that the scan virtio_scsi starts finds the disk driver there.
  "crct10dif_generic",
  "sd_mod",
  "virtio_scsi",
];

/**
 * The outer rig VM: KVM on emulated AMD-V (kvm-here.md's order), 9p for the host's scratch folder, and
 * virtio_console for the virtio-serial ports that carry the control agent and the nested guest's serial ports.
 */
export const rigModules = [
  "irqbypass",
  "ccp",
  "kvm",
  "kvm_amd",
  "virtio",
  "virtio_ring",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "virtio_console",
  "netfs",
  "9pnet",
  "9pnet_virtio",
  "9p",
  // /dev/uinput and its /dev/input/eventN (evdev): the input e2e test makes a host event device in the outer VM
  // for --input evdev.
  "uinput",
  "evdev",
  // /dev/net/tun: the TAP interfaces the net e2e test and bench give the nested guest.
  "tun",
  // /dev/loopN: the block e2e test gives the nested guest a host block device (a loop device) as --block.
  "loop",
  // /dev/vhost-vsock (with vhost, vsock and the virtio vsock transport it needs): the nested guest's --vsock
  // device, and AF_VSOCK sockets on the outer VM (CID 2 to the nested guest) for the vsock tests in net.test.ts.
  "vhost_vsock",
  // /dev/vhost-net: --net ...,vhost-net=true in net.test.ts.
  "vhost_net",
];

export interface ModuleFile {
  name: string;
  /** Absolute path of the .ko on the host. */
  path: string;
}

function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const files = readdirSync(join(modulesDir, "kernel"), { recursive: true, encoding: "utf8" });
  for (const file of files) {
    if (file.endsWith(".ko"))
      index.set(normalizeModuleName(basename(file)), join(modulesDir, "kernel", file));
  }
  return index;
}

/**
 * Resolves the requested modules and their dependencies into a load order (each dependency before its user,
 * otherwise the requested order). Modules the kernel does not have (the cloud flavour has no 9p) are
 * returned in `missing`.
 */
export async function moduleLoadOrder(
  modulesDir: string,
  requested: readonly string[],
): Promise<{ order: ModuleFile[]; missing: string[] }> {
  const index = indexModules(modulesDir);
  const order: ModuleFile[] = [];
  const missing: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();

  async function place(name: string, neededBy: string | undefined): Promise<void> {
    if (placed.has(name)) return;
    const path = index.get(name);
    if (!path) {
      if (neededBy) throw new Error(`module ${neededBy} depends on ${name}, which is not in ${modulesDir}`);
      missing.push(name);
      return;
    }
    if (visiting.has(name)) throw new Error(`module dependency cycle through ${name}`);
    visiting.add(name);
    const deps = moduleDependencies(await Bun.file(path).bytes(), relative(modulesDir, path));
    for (const dep of deps) await place(dep, name);
    visiting.delete(name);
    placed.add(name);
    order.push({ name, path });
  }

  for (const name of requested) await place(normalizeModuleName(name), undefined);
  return { order, missing };
}
