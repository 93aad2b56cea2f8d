// The options of `crosvm run`: names, short forms, help text (crosvm's `crosvm run --help`, src/crosvm/cmdline.rs
// `RunCommand`) and how each one lands in the command line's RunArgs layer. Listed in crosvm's order (sorted by
// name); the scanner (run_scan.ts) and the help (help.ts) both read this table.
import { decodeKeyValues } from "./keyvalue.ts";
import { ArgumentError } from "./errors.ts";
import { blockSpec, cpusSpec, memSpec, serialProblem, serialSpec, type BlockArgs } from "./option_specs.ts";
import type { RunArgs } from "./run_args.ts";

/** What scanning the command line collects. */
export interface RunScan {
  args: RunArgs;
  /** --cfg files in order of appearance. */
  cfgFiles: string[];
  /** A deprecated --disk/--rwdisk/--root/--rwroot was used (crosvm warns). */
  deprecatedDiskFlags: boolean;
}

export interface RunOption {
  readonly long: string;
  readonly short?: string;
  /** Value placeholder for the usage line; absent for switches. */
  readonly argName?: string;
  /** May be given more than once. */
  readonly repeatable: boolean;
  readonly help: string;
  readonly apply: (scan: RunScan, value: string) => void;
}

export const KERNEL_POSITIONAL = { name: "KERNEL", help: "bzImage of kernel to run" } as const;

const BLOCK_KEYS_HELP = `Valid keys:
    path=PATH - Path to the disk image. Can be specified
        without the key as the first argument.
    ro=BOOL - Whether the block should be read-only.
        (default: false)
    root=BOOL - Whether the block device should be mounted
        as the root filesystem. This will add the required
        parameters to the kernel command-line. Can only be
        specified once. (default: false)
    sparse=BOOL - Indicates whether the disk should support
        the discard operation. (default: true)
    block-size=BYTES - Set the reported block size of the
        disk, a power of two >= 512. (default: 512)
    id=STRING - Set the block device identifier to an ASCII
        string, up to 20 characters. (default: no ID)
    direct=BOOL - Use O_DIRECT mode to bypass page cache.
        (default: false)
    lock=BOOL - Whether to lock the disk files. Uses flock on
        Unix. (default: true)`;

const DEPRECATED_DISK_KEYS_HELP = `Valid keys:
    sparse=BOOL - Indicates whether the disk should support
        the discard operation (default: true)
    block_size=BYTES - Set the reported block size of the
        disk (default: 512)
    id=STRING - Set the block device identifier to an ASCII
        string, up to 20 characters (default: no ID)
    o_direct=BOOL - Use O_DIRECT mode to bypass page cache`;

/**
 * One of crosvm's deprecated disk options (cmdline.rs: disk, rwdisk, root, rwroot): a --block whose `ro` and
 * `root` keys the option's name fixes.
 */
function deprecatedDiskOption(long: string, ro: boolean, root: boolean, short?: string): RunOption {
  const what = `${ro ? "read-only" : "read-write"} ${root ? "root disk" : "disk"}`;
  return {
    long,
    ...(short ? { short } : {}),
    argName: "PATH[,key=value[,key=value[,...]]]",
    repeatable: !root,
    help: `(DEPRECATED): Use --block.
path to a ${what} image followed by optional
comma-separated options.
${DEPRECATED_DISK_KEYS_HELP}`,
    apply: (scan: RunScan, value: string) => {
      const disk: BlockArgs = decodeKeyValues({ ...blockSpec, option: `--${long}` }, value);
      scan.args.block.push({ ...disk, ro, root });
      scan.deprecatedDiskFlags = true;
    },
  };
}

function setOnce<K extends "kernel" | "bios" | "initrd" | "socket" | "pivotRoot">(key: K) {
  return (scan: RunScan, value: string) => {
    scan.args[key] = value;
  };
}

function setSwitch<K extends "noRng" | "pvpanic" | "disableSandbox" | "seccompLogFailures">(key: K) {
  return (scan: RunScan) => {
    scan.args[key] = true;
  };
}

export const RUN_OPTIONS: readonly RunOption[] = [
  {
    long: "bios",
    argName: "PATH",
    repeatable: false,
    help: "path to BIOS/firmware ROM",
    apply: setOnce("bios"),
  },
  {
    long: "block",
    short: "b",
    argName: "PATH[,key=value[,key=value[,...]]]",
    repeatable: true,
    help: `parameters for setting up a block device.\n${BLOCK_KEYS_HELP}`,
    apply: (scan, value) => {
      scan.args.block.push(decodeKeyValues(blockSpec, value));
    },
  },
  {
    long: "cfg",
    argName: "CONFIG_FILE",
    repeatable: true,
    help: `path to a JSON configuration file to load.
The options specified in the file can be overridden or
augmented by subsequent uses of this argument, or other
command-line parameters.`,
    apply: (scan, value) => {
      scan.cfgFiles.push(value);
    },
  },
  {
    long: "cpus",
    short: "c",
    argName: "N",
    repeatable: false,
    help: `cpu parameters.
Possible key values:
    num-cores=NUM - number of VCPUs. Can be specified
        without the key as the first argument. (default: 1)`,
    apply: (scan, value) => {
      scan.args.cpus = decodeKeyValues(cpusSpec, value);
    },
  },
  {
    long: "disable-sandbox",
    repeatable: false,
    help: "run all devices in one, non-sandboxed process",
    apply: setSwitch("disableSandbox"),
  },
  deprecatedDiskOption("disk", true, false, "d"),
  {
    long: "initrd",
    short: "i",
    argName: "PATH",
    repeatable: false,
    help: "initial ramdisk to load",
    apply: setOnce("initrd"),
  },
  {
    long: "kernel",
    argName: "PATH",
    repeatable: false,
    help: "bzImage of kernel to run (same as the positional KERNEL)",
    apply: setOnce("kernel"),
  },
  {
    long: "mem",
    short: "m",
    argName: "N",
    repeatable: false,
    help: `memory parameters.
Possible key values:
    size=NUM - amount of guest memory in MiB. Can be
        specified without the key as the first argument.
        (default: 256)`,
    apply: (scan, value) => {
      scan.args.mem = decodeKeyValues(memSpec, value);
    },
  },
  {
    long: "no-rng",
    repeatable: false,
    help: "don't create RNG device in the guest",
    apply: setSwitch("noRng"),
  },
  {
    long: "pvpanic",
    repeatable: false,
    help: "enable pvpanic device",
    apply: setSwitch("pvpanic"),
  },
  {
    long: "params",
    short: "p",
    argName: "PARAMS",
    repeatable: true,
    help: "extra kernel command line arguments. Can be given more than once",
    apply: (scan, value) => {
      scan.args.params.push(value);
    },
  },
  {
    long: "pivot-root",
    argName: "PATH",
    repeatable: false,
    help: "path to empty directory to use for sandbox pivot root",
    apply: setOnce("pivotRoot"),
  },
  deprecatedDiskOption("root", true, true, "r"),
  deprecatedDiskOption("rwdisk", false, false),
  deprecatedDiskOption("rwroot", false, true),
  {
    long: "seccomp-log-failures",
    repeatable: false,
    help: "instead of seccomp filter failures being fatal, they will be logged instead",
    apply: setSwitch("seccompLogFailures"),
  },
  {
    long: "serial",
    argName: "type=TYPE,[hardware=HW,num=NUM,path=PATH,input=PATH,console,earlycon,stdin]",
    repeatable: true,
    help: `comma separated key=value pairs for setting up serial
devices. Can be given more than once.
Possible key values:
    type=(stdout,syslog,sink,file,unix) - Where to route the
       serial device. Can be specified without the key as
       the first argument. (default: sink)
    hardware=(serial,virtio-console,debugcon) - Which type of
       serial hardware to emulate. Defaults to 8250 UART
       (serial).
    num=(1,2,3,4) - Serial Device Number. If not provided,
       num will default to 1.
    debugcon-port=PORT - Port for the debugcon device to
       listen to. Defaults to 0x402, which is what OVMF
       expects.
    path=PATH - The path to the file to write to when
       type=file, or the socket when type=unix
    input=PATH - The path to the file to read from when not
       stdin
    console - Use this serial device as the guest console.
       Will default to first serial port if not provided.
    earlycon - Use this serial device as the early console.
       Can only be given once.
    stdin - Direct standard input to this serial device.
       Can only be given once. Will default to first serial
       port if not provided.`,
    apply: (scan, value) => {
      const serial = decodeKeyValues(serialSpec, value);
      const problem = serialProblem(serial);
      if (problem !== undefined) {
        const got = serial[problem.key];
        throw new ArgumentError(
          `--serial: key "${problem.key}" expects ${problem.expected}, got ${got === undefined ? "nothing" : JSON.stringify(got)}`,
        );
      }
      scan.args.serial.push(serial);
    },
  },
  {
    long: "socket",
    short: "s",
    argName: "PATH",
    repeatable: false,
    help: "path to put the control socket. If PATH is a directory, a name will be generated",
    apply: setOnce("socket"),
  },
];
