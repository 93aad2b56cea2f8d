// The validated description of one VM, produced by src/cli from the command line and --cfg files and consumed by
// src/vmm. Field meanings follow crosvm's `crosvm run --help` (spec: "Command-line options and configuration files").
// src/cli has already applied crosvm's defaults and cross-option rules (src/cli/build_config.ts): at most one root
// disk; the serial rules of src/devices/serial/parameters.ts (one console, one stdin and one earlycon, `num`
// unique per hardware, ...); kernel xor bios. The code below src/cli relies on them and does not check them again.

import type { SerialParameters } from "../devices/serial/parameters.ts";
import type { InputDeviceOption } from "../devices/virtio/input/kind.ts";
import type { SharedDirConfig } from "../devices/virtio/fs/kind.ts";
import type { VsockOption } from "../devices/virtio/vsock/config.ts";

/** One --shared-dir (checked: an existing directory, a unique tag, parsed id maps). */
export type SharedDirOption = SharedDirConfig;

export type { SerialHardware, SerialParameters, SerialType } from "../devices/serial/parameters.ts";

export interface DiskOption {
  path: string;
  ro: boolean;
  root: boolean;
  sparse: boolean;
  /** Reported logical block size in bytes (power of two >= 512). */
  blockSize: number;
  /** Serial identifier, up to 20 ASCII characters. */
  id?: string;
  direct: boolean;
  /** flock the image (crosvm's `lock` key; LOCK_EX when writable, LOCK_SH when ro). Absent means true. */
  lock?: boolean;
}

/** One --pmem (crosvm's PmemOption): a raw file mapped into guest physical memory as /dev/pmemN. */
export interface PmemOption {
  path: string;
  ro: boolean;
  /** Adds "root=/dev/pmemN ro|rw" to the kernel command line (one root device in all, --block or --pmem). */
  root: boolean;
  /** crosvm's vma-size: an anonymous area of this many bytes backs the device instead of the file at `path`. */
  vmaSize?: number;
}

/** One --scsi-block disk (crosvm's ScsiOption): target i, LUN 0 of the virtio-scsi controller. */
export interface ScsiDiskOption {
  path: string;
  ro: boolean;
  root: boolean;
  /** Reported logical block size in bytes (power of two >= 512). */
  blockSize: number;
  /** flock the image (crosvm's `lock` key). Absent means true. */
  lock?: boolean;
}

/** One NIC (--net, or the deprecated --tap-name/--tap-fd/--host-ip): exactly one of tapName, tapFd, hostIp. */
export interface NetOption {
  tapName?: string;
  tapFd?: number;
  /** The host's address on a TAP the VMM creates (with netmask). */
  hostIp?: string;
  netmask?: string;
  /** The guest's MAC address ("52:54:00:12:34:56"); absent: the guest picks one. */
  mac?: string;
  /** Queue pairs (rx/tx virtqueues and TAP queues); default 1. */
  vqPairs: number;
  /** crosvm's `vhost-net=true`: rx and tx in the host kernel's vhost-net. Absent: false. */
  vhostNet?: boolean;
}

export interface VmConfig {
  kernel?: string;
  bios?: string;
  initrd?: string;
  /**
   * Extra kernel command-line parameters, in order (-p/--params; --cfg files' first). crosvm's "root=/dev/vdX
   * ro|rw" for the root disk is not in here: src/arch/x86_64/cmdline.ts adds it from `disks`.
   */
  params: string[];
  /** Guest RAM in MiB (-m/--mem; default 256). */
  memMib: number;
  /** vCPU count (-c/--cpus; default 1). */
  cpus: number;
  /**
   * Every serial device, sorted by hardware (serial, virtio-console, debugcon) then num. COM1-COM4 are always
   * present (crosvm set_default_serial_parameters): the ones not given are sinks, and when no port is the console
   * and COM1 is not given, COM1 is type=stdout with console and stdin.
   */
  serials: SerialParameters[];
  /** Block devices in command-line order (files' --cfg devices first); index i is /dev/vd{a+i}. */
  disks: DiskOption[];
  /** virtio-pmem devices in command-line order (files' --cfg devices first); index i is /dev/pmem{i}. */
  pmems: PmemOption[];
  /** --scsi-block disks in order (files' first); index i is /dev/sd{a+i}. Absent: none. */
  scsiDisks?: ScsiDiskOption[];
  /** virtio-net devices in command-line order (files' --cfg devices first). */
  nets: NetOption[];
  /** virtio-rng present (default true; --no-rng). */
  rng: boolean;
  /** A pvpanic PCI device (1b36:0011) through which the guest reports a panic (--pvpanic). */
  pvpanic: boolean;
  /** --pci-hotplug-slots: PCIe root ports for hot-plugged NICs (absent or 0: none, nothing changes on bus 0). */
  pciHotplugSlots?: number;
  /** Control socket path (-s/--socket); a folder given there already became FOLDER/crosvm-PID.sock. */
  socket?: string;
  disableSandbox: boolean;
  /** --hugepages: MADV_HUGEPAGE on guest RAM, and the collapser (ram_collapse.ts) on the ranges the guest touches. */
  hugepages: boolean;
  pivotRoot?: string;
  seccompLogFailures: boolean;
  extendedStatus: boolean;
  /** A virtio-balloon device (default true; --no-balloon). */
  balloon: boolean;
  /** Free page reporting on the balloon (--balloon-page-reporting; needs the balloon). */
  balloonPageReporting: boolean;
  /**
   * --balloon-bias-mib, in MiB (default 0). crosvm parses it into its Config and nothing in crosvm reads it any
   * more (its balloon policy is gone); it is kept and checked so command lines and --cfg files written for
   * crosvm work unchanged.
   */
  balloonBiasMib: number;
  /** Guest memory outside the balloon at boot in MiB (--init-mem): the balloon starts at memMib - initMemMib. */
  initMemMib?: number;
  /** virtio-input devices (--input), in the order given (files' first); absent means none. */
  inputs?: InputDeviceOption[];
  /** The vsock device (--vsock, or the deprecated --cid; its vhost device from --vhost-vsock-device/-fd). */
  vsock?: VsockOption;
  /** --shared-dir directories in command-line order (files' first). */
  sharedDirs: SharedDirOption[];
  /** --gdb PORT: a GDB stub on 127.0.0.1:PORT; the VM waits at its first instruction for the debugger. */
  gdb?: number;
  /** --trace-file PATH: a Chrome/Perfetto trace-event JSON of the VM's life (src/base/trace_events.ts). */
  traceFile?: string;
}
