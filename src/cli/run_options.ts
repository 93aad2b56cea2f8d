// The options of `crosvm run` (crosvm's `crosvm run --help`, src/crosvm/cmdline.rs `RunCommand`), in crosvm's
// order (sorted by name). This table is the only list of them: the scanner (scan_options.ts), the help (help.ts),
// the --cfg file schema (cfg.ts) and the parsed arguments' type `RunArgs` all come from it, and build_config.ts
// turns `RunArgs` into a VmConfig. Adding an option is one entry here plus its use in build_config.ts; a key=value
// option's keys, defaults and key help live in its valibot schema (option_specs.ts).
import { blockSpec, cpusSpec, memSpec, serialSpec, type BlockArgs } from "./option_specs.ts";
import { option, type ArgsOf, type DeprecatedForm } from "./option_table.ts";

export const KERNEL_POSITIONAL = { name: "KERNEL", help: "bzImage of kernel to run" } as const;

const DEPRECATED_DISK_WARNING =
  "Deprecated disk flags such as --[rw]disk or --[rw]root are passed. Use --block instead.";

/** One of crosvm's deprecated disk options (cmdline.rs: disk, rwdisk, root, rwroot): a --block with fixed ro, root. */
function deprecatedDisk(long: string, ro: boolean, root: boolean, short?: string): DeprecatedForm<BlockArgs> {
  return {
    long,
    ...(short !== undefined ? { short } : {}),
    repeatable: !root,
    help: `(DEPRECATED): Use --block.
path to a ${ro ? "read-only" : "read-write"} ${root ? "root disk" : "disk"} image followed by optional
comma-separated options.`,
    fixedKeys: ["ro", "root"],
    adjust: (disk) => ({ ...disk, ro, root }),
    warning: DEPRECATED_DISK_WARNING,
  };
}

export const RUN_OPTIONS = {
  bios: option.path({ help: "path to BIOS/firmware ROM", example: "/fw.img" }),
  block: option.keyValues(blockSpec, {
    short: "b",
    repeatable: true,
    help: "parameters for setting up a block device.",
    fileList: "a list of block devices",
    example: "/d.img,ro,sparse=false,block-size=4096,id=DISK1",
    deprecated: [
      deprecatedDisk("disk", true, false, "d"),
      deprecatedDisk("root", true, true, "r"),
      deprecatedDisk("rwdisk", false, false),
      deprecatedDisk("rwroot", false, true),
    ],
  }),
  cfg: option.path({
    argName: "CONFIG_FILE",
    repeatable: true,
    help: `path to a JSON configuration file to load.
The options specified in the file can be overridden or
augmented by subsequent uses of this argument, or other
command-line parameters.`,
    fileList: "a list of file paths",
  }),
  cpus: option.keyValues(cpusSpec, {
    short: "c",
    argName: "N",
    help: "cpu parameters.",
    fileObject: 'an object such as {"num-cores": 4}',
    example: "2",
  }),
  "disable-sandbox": option.switch({ help: "run all devices in one, non-sandboxed process" }),
  initrd: option.path({ short: "i", help: "initial ramdisk to load", example: "/initrd.img" }),
  kernel: option.path({
    help: "bzImage of kernel to run (same as the positional KERNEL)",
    example: "/vmlinuz",
  }),
  mem: option.keyValues(memSpec, {
    short: "m",
    argName: "N",
    help: "memory parameters.",
    fileObject: 'an object such as {"size": 2048}',
    example: "512",
  }),
  "no-rng": option.switch({ help: "don't create RNG device in the guest" }),
  params: option.text({
    short: "p",
    argName: "PARAMS",
    repeatable: true,
    help: "extra kernel command line arguments. Can be given more than once",
    fileList: "a list of strings",
    example: "init=/bin/sh",
  }),
  "pivot-root": option.path({
    help: "path to empty directory to use for sandbox pivot root",
    example: "/var/empty",
  }),
  pvpanic: option.switch({ help: "enable pvpanic device" }),
  "seccomp-log-failures": option.switch({
    help: "instead of seccomp filter failures being fatal, they will be logged instead",
  }),
  serial: option.keyValues(serialSpec, {
    argName: "type=TYPE,[hardware=HW,num=NUM,path=PATH,input=PATH,console,earlycon,stdin]",
    repeatable: true,
    help: `comma separated key=value pairs for setting up serial
devices. Can be given more than once.`,
    fileList: "a list of serial ports",
    example: "type=file,path=/tmp/com2.log,num=2,console",
  }),
  socket: option.path({
    short: "s",
    help: "path to put the control socket. If PATH is a directory, a name will be generated",
    example: "/run/crosvm-test.sock",
  }),
  gdb: option.text({
    argName: "PORT",
    help: "(EXPERIMENTAL) gdb on the given port; the VM waits at its first instruction for the debugger",
    example: "1234",
  }),
  "trace-file": option.path({
    help: "write a Chrome/Perfetto trace-event JSON of the VM's life (start-up, exits, devices) to this file",
    example: "/tmp/crosvm-trace.json",
  }),
};

/** The options of `crosvm run` as given (one layer per --cfg file and one for the command line), before defaults. */
export type RunArgs = ArgsOf<typeof RUN_OPTIONS>;
