// The options of `crosvm run` (crosvm's `crosvm run --help`, src/crosvm/cmdline.rs `RunCommand`), in crosvm's
// order (sorted by name). This table is the only list of them: the scanner (scan_options.ts), the help (help.ts),
// the --cfg file schema (cfg.ts) and the parsed arguments' type `RunArgs` all come from it, and build_config.ts
// turns `RunArgs` into a VmConfig. Adding an option is one entry here plus its use in build_config.ts; a key=value
// option's keys, defaults and key help live in its valibot schema (option_specs.ts).
import {
  blockSpec,
  cpusSpec,
  memSpec,
  netSpec,
  pmemSpec,
  scsiSpec,
  serialSpec,
  sharedDirKeyValues,
  sharedDirSpec,
  vsockSpec,
  type BlockArgs,
  type PmemArgs,
} from "./option_specs.ts";
import { MAX_PCI_HOTPLUG_SLOTS } from "../devices/pci/pcie_root_port.ts";
import { MAX_GUEST_CID, MIN_GUEST_CID } from "../devices/virtio/vsock/config.ts";
import { inputOption } from "./input_option.ts";
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

/** crosvm's deprecated --pmem-device (read-only) and --rw-pmem-device: a --pmem with ro fixed. */
function deprecatedPmem(long: string, ro: boolean): DeprecatedForm<PmemArgs> {
  return {
    long,
    repeatable: true,
    help: `(DEPRECATED): Use --pmem.
path to a ${ro ? "read-only" : "writable"} disk image`,
    fixedKeys: ["ro"],
    adjust: (pmem) => ({ ...pmem, ro }),
    warning: "Deprecated --pmem-device or --rw-pmem-device flags are passed. Use --pmem instead.",
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
  hugepages: option.switch({ help: "advise the kernel to use Huge Pages for guest memory mappings" }),
  initrd: option.path({ short: "i", help: "initial ramdisk to load", example: "/initrd.img" }),
  input: inputOption,
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
  pmem: option.keyValues(pmemSpec, {
    repeatable: true,
    help: "path to a disk image followed by optional comma-separated options (virtio-pmem).",
    fileList: "a list of pmem devices",
    example: "/pmem.img,ro,root",
    deprecated: [deprecatedPmem("pmem-device", true), deprecatedPmem("rw-pmem-device", false)],
  }),
  pvpanic: option.switch({ help: "enable pvpanic device" }),
  // crosvm's pci_hotplug_slots (a u8 there); each slot is a PCIe root port on bus 0 with its own secondary bus.
  "pci-hotplug-slots": option.integer({
    help: `number of PCI hotplug slots (PCIe root ports) for
devices added with "crosvm virtio-net add" through the control
socket (-s). (default: 0)`,
    min: 0,
    max: MAX_PCI_HOTPLUG_SLOTS,
    example: "3",
  }),
  "scsi-block": option.keyValues(scsiSpec, {
    repeatable: true,
    help: "parameters for setting up a SCSI disk.",
    fileList: "a list of SCSI disks",
    example: "/d.img,ro,block-size=4096",
  }),
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
  net: option.keyValues(netSpec, {
    argName: "(tap-name=NAME|tap-fd=FD|host-ip=IP,netmask=MASK,mac=MAC)[,mac=MAC,vq-pairs=N]",
    repeatable: true,
    help: `comma separated key=value pairs for setting up a network
device. Can be given more than once.`,
    fileList: "a list of network devices",
    example: "tap-name=crosvm_tap,mac=52:54:00:12:34:56,vq-pairs=2",
  }),
  // crosvm's deprecated network options: --tap-name and --tap-fd add a NIC each; --host-ip, --netmask and --mac
  // together add one on a TAP the VMM creates.
  "tap-name": option.text({
    argName: "NAME",
    repeatable: true,
    help: "(DEPRECATED): Use --net tap-name=NAME.",
    fileList: "a list of TAP names",
    example: "crosvm_tap",
  }),
  "tap-fd": option.text({
    argName: "FD",
    repeatable: true,
    help: "(DEPRECATED): Use --net tap-fd=FD.",
    fileList: "a list of descriptor numbers",
    example: "3",
  }),
  "host-ip": option.text({
    argName: "IP",
    help: "(DEPRECATED): Use --net host-ip=IP,netmask=MASK,mac=MAC.",
    example: "192.168.10.1",
    exampleWith: ["--netmask", "255.255.255.0", "--mac", "52:54:00:12:34:56"],
  }),
  netmask: option.text({
    argName: "NETMASK",
    help: "(DEPRECATED): Use --net host-ip=IP,netmask=MASK,mac=MAC.",
    example: "255.255.0.0",
    exampleWith: ["--host-ip", "192.168.10.1", "--mac", "52:54:00:12:34:56"],
  }),
  mac: option.text({
    argName: "MAC",
    help: "(DEPRECATED): Use --net host-ip=IP,netmask=MASK,mac=MAC.",
    example: "52:54:00:12:34:57",
    exampleWith: ["--host-ip", "192.168.10.1", "--netmask", "255.255.255.0"],
  }),
  socket: option.path({
    short: "s",
    help: "path to put the control socket. If PATH is a directory, a name will be generated",
    example: "/run/crosvm-test.sock",
  }),
  // virtio-balloon (crosvm's cmdline.rs RunCommand, feature "balloon").
  "no-balloon": option.switch({ help: "don't use virtio-balloon device in the guest" }),
  "balloon-bias-mib": option.integer({
    help: "amount to bias balance of memory between host and guest as the balloon inflates, in mib.",
    min: -(2 ** 43),
    max: 2 ** 43,
    example: "128",
  }),
  "balloon-page-reporting": option.switch({ help: "enable page reporting in balloon." }),
  "init-mem": option.integer({
    help: "amount of guest memory outside the balloon at boot in MiB. (default: --mem)",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    example: "128",
  }),
  "shared-dir": (() => {
    const entry = option.keyValues(sharedDirSpec, {
      argName:
        "PATH:TAG[:type=TYPE:writeback=BOOL:timeout=SECONDS:uidmap=UIDMAP:gidmap=GIDMAP:uid=UID:gid=GID:cache=CACHE:dax=BOOL:posix_acl=BOOL]",
      repeatable: true,
      help: `colon-separated options for configuring a directory to be
shared with the VM. The first field is the directory to be
shared and the second field is the tag that the VM can use
to identify the device. The remaining fields are key=value
pairs that may appear in any order.`,
      fileList: "a list of shared directories",
      example: "/tmp:my_tag:type=fs:cache=always",
    });
    return { ...entry, decode: (text: string, name: string) => entry.decode(sharedDirKeyValues(text), name) };
  })(),
  gdb: option.text({
    argName: "PORT",
    help: "(EXPERIMENTAL) gdb on the given port; the VM waits at its first instruction for the debugger",
    example: "1234",
  }),
  // virtio-vsock on the host's vhost-vsock (crosvm's RunCommand vsock, and its deprecated cid, vhost_vsock_device
  // and vhost_vsock_fd).
  vsock: option.keyValues(vsockSpec, {
    argName: "cid=CID[,device=VHOST_DEVICE]",
    help: `add a vsock device. Since a guest can only have one CID,
this option can only be specified once.`,
    fileObject: 'an object such as {"cid": 3}',
    example: "cid=3,device=/dev/vhost-vsock",
  }),
  cid: option.integer({
    help: "(DEPRECATED): Use --vsock CID. context ID for virtual sockets.",
    min: MIN_GUEST_CID,
    max: MAX_GUEST_CID,
    example: "3",
  }),
  "vhost-vsock-device": option.path({
    help: "(DEPRECATED): Use --vsock cid=CID,device=PATH. path to the vhost-vsock device.",
    example: "/dev/vhost-vsock",
    exampleWith: ["--vsock", "3"],
  }),
  "vhost-vsock-fd": option.integer({
    help: "(DEPRECATED): Use --vsock cid=CID,device=/proc/self/fd/FD. open FD to the vhost-vsock device.",
    min: 0,
    max: 2 ** 31 - 1,
    example: "0",
    exampleWith: ["--vsock", "3"],
  }),
  "trace-file": option.path({
    help: "write a Chrome/Perfetto trace-event JSON of the VM's life (start-up, exits, devices) to this file",
    example: "/tmp/crosvm-trace.json",
  }),
};

/** The options of `crosvm run` as given (one layer per --cfg file and one for the command line), before defaults. */
export type RunArgs = ArgsOf<typeof RUN_OPTIONS>;
