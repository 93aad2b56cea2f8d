// The validated description of one VM, produced by src/cli from the command line and --cfg files and consumed by
// src/vmm. Field meanings follow crosvm's `crosvm run --help` (spec: "Command-line options and configuration files").
// src/cli has already applied crosvm's defaults and cross-option rules (src/cli/build_config.ts): at most one root
// disk; the serial rules of src/devices/serial/parameters.ts (one console, one stdin and one earlycon, `num`
// unique per hardware, ...); kernel xor bios. The code below src/cli relies on them and does not check them again.

import type { SerialParameters } from "../devices/serial/parameters.ts";

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
  /** virtio-rng present (default true; --no-rng). */
  rng: boolean;
  /** A pvpanic PCI device (1b36:0011) through which the guest reports a panic (--pvpanic). */
  pvpanic: boolean;
  /** Control socket path (-s/--socket); a folder given there already became FOLDER/crosvm-PID.sock. */
  socket?: string;
  disableSandbox: boolean;
  pivotRoot?: string;
  seccompLogFailures: boolean;
  extendedStatus: boolean;
  /** --gdb PORT: a GDB stub on 127.0.0.1:PORT; the VM waits at its first instruction for the debugger. */
  gdb?: number;
  /** --trace-file PATH: a Chrome/Perfetto trace-event JSON of the VM's life (src/vmm/trace/). */
  traceFile?: string;
}
