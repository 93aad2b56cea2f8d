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
import { IdMap, type IdRange, MAX_VALID_ID, parseIdMap } from "../devices/virtio/fs/id_map.ts";
import { DEFAULT_VHOST_VSOCK_DEVICE, type VsockOption } from "../devices/virtio/vsock/config.ts";
import type {
  DiskOption,
  NetOption,
  PmemOption,
  ScsiDiskOption,
  SharedDirOption,
  VmConfig,
} from "../vmm/config.ts";
import { ConfigError } from "./errors.ts";
import { toInputDevice } from "./input_option.ts";
import {
  DEFAULT_CPUS,
  DEFAULT_MEM_MIB,
  type BlockArgs,
  type PmemArgs,
  type ScsiArgs,
  type NetArgs,
  type SerialArgs,
  type SharedDirArgs,
} from "./option_specs.ts";
import type { Given } from "./option_table.ts";
import type { RunArgs } from "./run_options.ts";
import { describeValue } from "../base/shown_value.ts";

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

function toPmem(p: PmemArgs): PmemOption {
  const pmem: PmemOption = { path: p.path, ro: p.ro, root: p.root };
  if (p["vma-size"] !== undefined) pmem.vmaSize = p["vma-size"];
  return pmem;
}

function toScsiDisk(s: ScsiArgs): ScsiDiskOption {
  return { path: s.path, ro: s.ro, root: s.root, blockSize: s["block-size"], lock: s.lock };
}

/** virtio-scsi addresses a disk by an 8-bit target number (crosvm's TargetId: u8). */
const MAX_SCSI_DISKS = 256;

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

/** crosvm allows one root disk (cmdline.rs "only one root disk can be specified"), --block, --scsi-block or
 * --pmem; the error names where each root disk was given (--block, --root, --rwroot, --scsi-block, --pmem, a
 * --cfg file). */
function checkOneRoot(devices: readonly Given<{ readonly root: boolean }>[]): void {
  const roots = devices.filter((b) => b.value.root);
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
  if (n["vhost-net"]) net.vhostNet = true;
  return net;
}

/** The value of a deprecated network option, checked by `ok`; one line naming the option otherwise. */
function legacyValue<T>(given: Given<string>, ok: (s: string) => T | undefined, expected: string): string {
  if (ok(given.value) === undefined)
    throw new ConfigError(`${given.from}: expected ${expected}, got ${describeValue(given.value)}`);
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

/** The balloon's options, with crosvm's rules across them (config.rs validate_config, linux.rs --init-mem). */
function balloonConfig(
  args: RunArgs,
): Pick<VmConfig, "balloon" | "balloonPageReporting" | "balloonBiasMib" | "initMemMib"> {
  const balloon = !(args["no-balloon"]?.value ?? false);
  const pageReporting = args["balloon-page-reporting"]?.value ?? false;
  if (!balloon && pageReporting)
    throw new ConfigError(
      "--balloon-page-reporting: page reporting requires the balloon (drop --no-balloon)",
    );
  const initMem = args["init-mem"];
  const memMib = args.mem?.value.size ?? DEFAULT_MEM_MIB;
  if (initMem !== undefined && initMem.value > memMib)
    throw new ConfigError(
      `--init-mem: initial memory ${initMem.value} MiB cannot be greater than total memory ${memMib} MiB`,
    );
  if (initMem !== undefined && !balloon)
    throw new ConfigError("--init-mem: the initial balloon needs the balloon (drop --no-balloon)");
  return {
    balloon,
    balloonPageReporting: pageReporting,
    balloonBiasMib: args["balloon-bias-mib"]?.value ?? 0,
    ...(initMem !== undefined ? { initMemMib: initMem.value } : {}),
  };
}

/** The shared directories, each an existing directory with its own tag and parsed id maps. */
function buildSharedDirs(given: readonly Given<SharedDirArgs>[]): SharedDirOption[] {
  const tags = new Map<string, string>();
  return given.map(({ value: d, from }) => {
    const fail = (what: string): never => {
      throw new ConfigError(`${from} ${d.path}:${d.tag}: ${what}`);
    };
    let isDir = false;
    try {
      isDir = statSync(d.path).isDirectory();
    } catch {
      fail(`${d.path} does not exist (expected a directory)`);
    }
    if (!isDir) fail(`${d.path} is not a directory`);
    if (tags.has(d.tag)) fail(`tag "${d.tag}" is already used by ${tags.get(d.tag)}`);
    tags.set(d.tag, d.path);
    const map = (key: "uidmap" | "gidmap") => {
      const text = d[key];
      if (text === undefined) return undefined;
      const ranges = parseIdMap(text);
      return typeof ranges === "string" ? fail(`key "${key}": ${ranges}`) : ranges;
    };
    const uidmap = map("uidmap");
    const gidmap = map("gidmap");
    // crosvm's uid/gid: ids inside the device's user namespace, whose map is the uidmap/gidmap; here a guest id
    // the share's map must cover (without a map, ids are the host's).
    const id = (key: "uid" | "gid", ranges: IdRange[] | undefined) => {
      const guest = d[key];
      if (guest === 0) return undefined;
      const host = new IdMap(ranges).toHost(guest);
      if (host < 0) fail(`key "${key}": ${guest} is not mapped by the ${key}map (expected a ${key} it maps)`);
      if (host > MAX_VALID_ID)
        fail(`key "${key}": ${guest} maps to ${host}, which is not a valid host ${key}`);
      return guest;
    };
    const uid = id("uid", uidmap);
    const gid = id("gid", gidmap);
    return {
      path: d.path,
      tag: d.tag,
      type: d.type,
      cache: d.cache,
      timeout: d.timeout,
      writeback: d.writeback,
      rewriteSecurityXattrs: d["rewrite-security-xattrs"],
      asciiCasefold: d.ascii_casefold,
      posixAcl: d.posix_acl,
      ...(uidmap ? { uidmap } : {}),
      ...(gidmap ? { gidmap } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    };
  });
}

/**
 * The vsock device: --vsock, or crosvm's deprecated --cid; its vhost device from --vsock's device key, or the
 * deprecated --vhost-vsock-device PATH or --vhost-vsock-fd FD (as /proc/self/fd/FD, crosvm's own replacement).
 * Errors name the option that was given.
 */
function buildVsock(args: RunArgs): VsockOption | undefined {
  const { vsock, cid } = args;
  const path = args["vhost-vsock-device"];
  const fd = args["vhost-vsock-fd"];
  if (vsock !== undefined && cid !== undefined)
    throw new ConfigError("--cid: a vsock CID was already given with --vsock (use only --vsock CID)");
  if (path !== undefined && fd !== undefined)
    throw new ConfigError(
      "--vhost-vsock-fd: --vhost-vsock-device was also given (expected only one of them)",
    );
  if (vsock === undefined && cid === undefined) {
    if (path !== undefined || fd !== undefined)
      throw new ConfigError(
        `--${path !== undefined ? "vhost-vsock-device" : "vhost-vsock-fd"}: no vsock device (expected --vsock CID too)`,
      );
    return undefined;
  }
  const chosen = vsock?.value.cid ?? cid!.value;
  const option = vsock !== undefined ? "--vsock" : "--cid";
  if (fd !== undefined)
    return { cid: chosen, device: `/proc/self/fd/${fd.value}`, option: `--vhost-vsock-fd ${fd.value}` };
  if (path !== undefined) return { cid: chosen, device: path.value, option: "--vhost-vsock-device" };
  return { cid: chosen, device: vsock?.value.device ?? DEFAULT_VHOST_VSOCK_DEVICE, option };
}

/** --gdb PORT: a TCP port number. */
function gdbPort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new ConfigError(`--gdb: expected a TCP port number 1..65535, got ${describeValue(text)}`);
  return port;
}

export function buildVmConfig(args: RunArgs, globals: { extendedStatus: boolean }): VmConfig {
  const kernel = args.kernel?.value;
  const bios = args.bios?.value;
  if (kernel !== undefined && bios !== undefined)
    throw new ConfigError(`--bios: a VM executable was already specified (kernel ${kernel})`);
  if (kernel === undefined && bios === undefined)
    throw new ConfigError("crosvm run: executable is not specified (expected KERNEL, --kernel or --bios)");

  checkOneRoot([...args.block, ...args["scsi-block"], ...args.pmem]);
  if (args["scsi-block"].length > MAX_SCSI_DISKS)
    throw new ConfigError(`--scsi-block: at most ${MAX_SCSI_DISKS} SCSI disks (one target each)`);
  const config: VmConfig = {
    params: args.params.map((p) => p.value),
    memMib: args.mem?.value.size ?? DEFAULT_MEM_MIB,
    cpus: args.cpus?.value["num-cores"] ?? DEFAULT_CPUS,
    serials: buildSerials(args.serial),
    disks: args.block.map((b) => toDisk(b.value)),
    pmems: args.pmem.map((p) => toPmem(p.value)),
    nets: buildNets(args),
    rng: !(args["no-rng"]?.value ?? false),
    pvpanic: args.pvpanic?.value ?? false,
    disableSandbox: args["disable-sandbox"]?.value ?? false,
    hugepages: args.hugepages?.value ?? false,
    seccompLogFailures: args["seccomp-log-failures"]?.value ?? false,
    extendedStatus: globals.extendedStatus,
    ...balloonConfig(args),
    sharedDirs: buildSharedDirs(args["shared-dir"]),
  };
  if (args["scsi-block"].length > 0) config.scsiDisks = args["scsi-block"].map((s) => toScsiDisk(s.value));
  if (kernel !== undefined) config.kernel = kernel;
  if (bios !== undefined) config.bios = bios;
  if (args.initrd !== undefined) config.initrd = args.initrd.value;
  if (args.socket !== undefined) config.socket = socketPath(args.socket.value);
  if (args["pivot-root"] !== undefined) config.pivotRoot = args["pivot-root"].value;
  if (args.input.length > 0) config.inputs = args.input.map((i) => toInputDevice(i.value));
  if (args.gdb !== undefined) config.gdb = gdbPort(args.gdb.value);
  const vsock = buildVsock(args);
  if (vsock !== undefined) config.vsock = vsock;
  if (args["trace-file"] !== undefined) config.traceFile = args["trace-file"].value;
  const hotplugSlots = args["pci-hotplug-slots"]?.value ?? 0;
  if (hotplugSlots > 0) config.pciHotplugSlots = hotplugSlots;
  return config;
}
