// Turns the merged options of `crosvm run` into a VmConfig: defaults, and the checks crosvm makes in
// `Config::try_from(RunCommand)` (src/crosvm/cmdline.rs) and `validate_config` (src/crosvm/config.rs). The rules
// across options are checked here and nowhere else; the per-value rules are in the options' schemas.
import { statSync } from "node:fs";
import { join } from "node:path";
import {
  serialSetProblem,
  withDefaultSerialParameters,
  type SerialParameters,
} from "../devices/serial/parameters.ts";
import type { DiskOption, VmConfig } from "../vmm/config.ts";
import { ConfigError } from "./errors.ts";
import { DEFAULT_CPUS, DEFAULT_MEM_MIB, type BlockArgs, type SerialArgs } from "./option_specs.ts";
import type { Given } from "./option_table.ts";
import type { RunArgs } from "./run_options.ts";

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
    hardware: s.hardware,
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

/** The serial ports with crosvm's defaults, after the rules across ports (devices/serial/parameters.ts). */
function buildSerials(given: readonly Given<SerialArgs>[]): SerialParameters[] {
  const ports = given.map((g) => toSerial(g.value));
  const problem = serialSetProblem(ports);
  if (problem !== undefined) throw new ConfigError(`${given[problem.index]!.from}: ${problem.message}`);
  return withDefaultSerialParameters(ports);
}

/** crosvm allows one root disk (cmdline.rs "only one root disk can be specified"); the error names where each
 * root disk was given (--block, --root, --rwroot, a --cfg file). */
function checkOneRoot(block: readonly Given<BlockArgs>[]): void {
  const roots = block.filter((b) => b.value.root);
  if (roots.length > 1)
    throw new ConfigError(
      `${[...new Set(roots.map((r) => r.from))].join(" and ")}: only one root disk can be specified`,
    );
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

/** --gdb PORT: a TCP port number. */
function gdbPort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new ConfigError(`--gdb ${text}: expected a TCP port number 1..65535`);
  return port;
}

export function buildVmConfig(args: RunArgs, globals: { extendedStatus: boolean }): VmConfig {
  const kernel = args.kernel?.value;
  const bios = args.bios?.value;
  if (kernel !== undefined && bios !== undefined)
    throw new ConfigError(`--bios: a VM executable was already specified (kernel ${kernel})`);
  if (kernel === undefined && bios === undefined)
    throw new ConfigError("crosvm run: executable is not specified (expected KERNEL, --kernel or --bios)");

  checkOneRoot(args.block);
  const config: VmConfig = {
    params: args.params.map((p) => p.value),
    memMib: args.mem?.value.size ?? DEFAULT_MEM_MIB,
    cpus: args.cpus?.value["num-cores"] ?? DEFAULT_CPUS,
    serials: buildSerials(args.serial),
    disks: args.block.map((b) => toDisk(b.value)),
    rng: !(args["no-rng"]?.value ?? false),
    pvpanic: args.pvpanic?.value ?? false,
    disableSandbox: args["disable-sandbox"]?.value ?? false,
    seccompLogFailures: args["seccomp-log-failures"]?.value ?? false,
    extendedStatus: globals.extendedStatus,
  };
  if (kernel !== undefined) config.kernel = kernel;
  if (bios !== undefined) config.bios = bios;
  if (args.initrd !== undefined) config.initrd = args.initrd.value;
  if (args.socket !== undefined) config.socket = socketPath(args.socket.value);
  if (args["pivot-root"] !== undefined) config.pivotRoot = args["pivot-root"].value;
  if (args.gdb !== undefined) config.gdb = gdbPort(args.gdb.value);
  if (args["trace-file"] !== undefined) config.traceFile = args["trace-file"].value;
  return config;
}
