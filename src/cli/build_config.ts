// Turns the merged options of `crosvm run` into a VmConfig: defaults, and the checks crosvm makes in
// `Config::try_from(RunCommand)` (src/crosvm/cmdline.rs) and `validate_config` (src/crosvm/config.rs).
import { withDefaultSerialParameters } from "../devices/legacy.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { DiskOption, SerialHardware, SerialParameters, VmConfig } from "../vmm/config.ts";
import { ConfigError } from "./errors.ts";
import type { BlockArgs, SerialArgs } from "./option_specs.ts";
import type { RunArgs } from "./run_args.ts";

/** crosvm's defaults (spec: "Defaults"): 256 MiB of memory and 1 vCPU. */
export const DEFAULT_MEM_MIB = 256;
export const DEFAULT_CPUS = 1;

/** The order of crosvm's `SerialHardware` enum, which orders its serial BTreeMap. */
const HARDWARE_ORDER: readonly SerialHardware[] = ["serial", "virtio-console", "debugcon"];

function toDisk(b: BlockArgs): DiskOption {
  const disk: DiskOption = {
    path: b.path,
    ro: b.ro,
    root: b.root,
    sparse: b.sparse,
    blockSize: b["block-size"],
    direct: b.direct,
    lock: b.lock,
  };
  if (b.id !== undefined) disk.id = b.id;
  return disk;
}

function toSerial(s: SerialArgs): SerialParameters {
  const serial: SerialParameters = {
    type: s.type,
    hardware: s.hardware === "legacy-virtio-console" ? "virtio-console" : s.hardware,
    num: s.num,
    console: s.console,
    earlycon: s.earlycon,
    stdin: s.stdin,
    debugconPort: s["debugcon-port"],
  };
  if (s.path !== undefined) serial.path = s.path;
  if (s.input !== undefined) serial.input = s.input;
  return serial;
}

const describe = (s: SerialParameters) => `${s.hardware} device ${s.num}`;

/** crosvm's per-port checks (cmdline.rs) and `set_default_serial_parameters` (arch/src/serial.rs). */
export function buildSerials(given: readonly SerialParameters[]): SerialParameters[] {
  const ports: SerialParameters[] = [];
  for (const s of given) {
    const same = ports.find((p) => p.hardware === s.hardware && p.num === s.num);
    if (same)
      throw new ConfigError(
        `--serial: ${describe(s)} is given more than once (num must be unique per hardware)`,
      );
    const earlycon = ports.find((p) => p.earlycon);
    if (s.earlycon && earlycon)
      throw new ConfigError(`--serial: ${describe(earlycon)} already set as earlycon`);
    const stdin = ports.find((p) => p.stdin);
    if (s.stdin && stdin)
      throw new ConfigError(`--serial: ${describe(stdin)} already connected to standard input`);
    const console = ports.find((p) => p.console);
    if (s.console && console) throw new ConfigError(`--serial: ${describe(console)} is already the console`);
    ports.push(s);
  }
  // crosvm's defaults: COM1 on stdout with stdin as the console unless something else is; COM1-COM4 always exist.
  return withDefaultSerialParameters(ports).sort(
    (a, b) => HARDWARE_ORDER.indexOf(a.hardware) - HARDWARE_ORDER.indexOf(b.hardware) || a.num - b.num,
  );
}

/** crosvm allows one root disk (cmdline.rs "only one root disk can be specified"). The kernel's
 * "root=/dev/vdX ro|rw" parameter is added by src/arch/x86_64/cmdline.ts from `disks`, not here. */
function checkOneRoot(disks: readonly DiskOption[]): void {
  if (disks.filter((d) => d.root).length > 1)
    throw new ConfigError("--block: only one root disk can be specified");
}

/** A socket path naming a folder gets crosvm's generated name crosvm-PID.sock inside it. */
function socketPath(path: string): string {
  try {
    if (statSync(path).isDirectory()) return join(path, `crosvm-${process.pid}.sock`);
  } catch {
    // Not there yet: the VMM creates it.
  }
  return path;
}

export function buildVmConfig(args: RunArgs, globals: { extendedStatus: boolean }): VmConfig {
  if (args.kernel !== undefined && args.bios !== undefined)
    throw new ConfigError(`--bios: a VM executable was already specified (kernel ${args.kernel})`);
  if (args.kernel === undefined && args.bios === undefined)
    throw new ConfigError("crosvm run: executable is not specified (expected KERNEL, --kernel or --bios)");

  const disks = args.block.map(toDisk);
  checkOneRoot(disks);
  const config: VmConfig = {
    params: [...args.params],
    memMib: args.mem?.size ?? DEFAULT_MEM_MIB,
    cpus: args.cpus?.["num-cores"] ?? DEFAULT_CPUS,
    serials: buildSerials(args.serial.map(toSerial)),
    disks,
    rng: !(args.noRng ?? false),
    pvpanic: args.pvpanic ?? false,
    disableSandbox: args.disableSandbox ?? false,
    seccompLogFailures: args.seccompLogFailures ?? false,
    extendedStatus: globals.extendedStatus,
  };
  if (args.kernel !== undefined) config.kernel = args.kernel;
  if (args.bios !== undefined) config.bios = args.bios;
  if (args.initrd !== undefined) config.initrd = args.initrd;
  if (args.socket !== undefined) config.socket = socketPath(args.socket);
  if (args.pivotRoot !== undefined) config.pivotRoot = args.pivotRoot;
  return config;
}
