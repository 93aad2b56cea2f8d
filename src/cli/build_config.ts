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
import { MAC_EXPECTED, parseIpv4, parseMac, parseNetmask } from "../devices/virtio/net/address.ts";
import type { DiskOption, NetOption, VmConfig } from "../vmm/config.ts";
import { ConfigError } from "./errors.ts";
import {
  DEFAULT_CPUS,
  DEFAULT_MEM_MIB,
  type BlockArgs,
  type NetArgs,
  type SerialArgs,
} from "./option_specs.ts";
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

function toNet(n: NetArgs): NetOption {
  const net: NetOption = { vqPairs: n["vq-pairs"] };
  if (n["tap-name"] !== undefined) net.tapName = n["tap-name"];
  if (n["tap-fd"] !== undefined) net.tapFd = n["tap-fd"];
  if (n["host-ip"] !== undefined) net.hostIp = n["host-ip"];
  if (n.netmask !== undefined) net.netmask = n.netmask;
  if (n.mac !== undefined) net.mac = n.mac;
  return net;
}

/** The value of a deprecated network option, checked by `ok`; one line naming the option otherwise. */
function legacyValue<T>(given: Given<string>, ok: (s: string) => T | undefined, expected: string): string {
  if (ok(given.value) === undefined)
    throw new ConfigError(`${given.from}: expected ${expected}, got ${JSON.stringify(given.value)}`);
  return given.value;
}

/** --net values, then crosvm's deprecated --tap-name, --tap-fd and the --host-ip/--netmask/--mac triple. */
function buildNets(args: RunArgs): NetOption[] {
  const nets = args.net.map((n) => toNet(n.value));
  for (const t of args["tap-name"])
    nets.push({
      tapName: legacyValue(t, (s) => (/^[^/\s:]{1,15}$/.test(s) ? s : undefined), "a TAP name"),
      vqPairs: 1,
    });
  for (const t of args["tap-fd"]) {
    const fd = legacyValue(t, (s) => (/^[0-9]{1,9}$/.test(s) ? s : undefined), "a descriptor number");
    nets.push({ tapFd: Number(fd), vqPairs: 1 });
  }
  const triple = [args["host-ip"], args.netmask, args.mac];
  if (triple.some((g) => g !== undefined)) {
    const [hostIp, netmask, mac] = triple;
    if (!hostIp || !netmask || !mac)
      throw new ConfigError(
        `${triple.find((g) => g !== undefined)!.from}: --host-ip, --netmask and --mac must be given together`,
      );
    nets.push({
      hostIp: legacyValue(hostIp, parseIpv4, "an IPv4 address"),
      netmask: legacyValue(netmask, parseNetmask, "an IPv4 netmask"),
      mac: legacyValue(mac, parseMac, MAC_EXPECTED),
      vqPairs: 1,
    });
  }
  return nets;
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
    nets: buildNets(args),
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
  return config;
}
