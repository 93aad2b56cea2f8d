// The key=value options of `crosvm run`, as valibot schemas shared by the command line and --cfg files. Keys,
// aliases, defaults and per-key help follow crosvm: DiskOption (devices/src/virtio/block/mod.rs), SerialParameters
// (devices/src/serial_device.rs), MemOptions and CpuOptions (src/crosvm/config.rs). Each schema's message is the
// "expected ..." phrase of an error; each key's `described` text and placeholder make its "Valid keys" help line
// (help.ts), and its default is read from the schema.
import * as v from "valibot";
import {
  DEFAULT_DEBUGCON_PORT,
  SERIAL_HARDWARE,
  SERIAL_TYPES,
  serialPortProblem,
  type SerialHardware,
} from "../devices/serial/parameters.ts";
import { MAX_VALID_ID } from "../devices/virtio/fs/id_map.ts";
import { MAC_EXPECTED, parseIpv4, parseMac, parseNetmask } from "../devices/virtio/net/address.ts";
import { MAX_VQ_PAIRS } from "../devices/virtio/net/constants.ts";
import { cidSchema, DEFAULT_VHOST_VSOCK_DEVICE } from "../devices/virtio/vsock/config.ts";
import type { KeyValueSpec } from "./schema_shape.ts";

/** crosvm's defaults (spec: "Defaults"): 256 MiB of memory and 1 vCPU. */
export const DEFAULT_MEM_MIB = 256;
export const DEFAULT_CPUS = 1;

/**
 * A key's schema with its help: `placeholder` stands for the value in "key=PLACEHOLDER - description" (absent:
 * the picklist's options), `description` is its text in crosvm's help, `defaultText` how its default is shown
 * when the default value itself does not read well (a port in hex, "no ID" for none).
 */
function described<S extends v.GenericSchema>(
  schema: S,
  placeholder: string | undefined,
  description: string,
  defaultText?: string,
) {
  return v.pipe(
    schema,
    v.metadata({ placeholder: placeholder ?? "", ...(defaultText !== undefined ? { defaultText } : {}) }),
    v.description(description),
  );
}

const boolean = v.boolean("a boolean");
const integer = (range: string, min: number, max: number) =>
  v.pipe(v.number(range), v.integer(range), v.minValue(min, range), v.maxValue(max, range));
/** Linux refuses a path of PATH_MAX (4096) bytes or more with ENAMETOOLONG, whatever it names. */
const PATH_MAX = 4096;
const utf8 = new TextEncoder();

/** A non-empty path Linux can open, on the command line and in files. */
export const path = v.pipe(
  v.string("a path"),
  v.nonEmpty("a non-empty path"),
  v.check((s) => utf8.encode(s).length < PATH_MAX, `a path shorter than ${PATH_MAX} bytes`),
);

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(Math.log2(n));
}

/** virtio-blk's serial id is at most 20 bytes (VIRTIO_BLK_ID_BYTES, virtio 1.2 §5.2.6). */
export const DISK_ID_LEN = 20;

export const blockSpec = {
  option: "--block",
  firstKey: "path",
  aliases: { block_size: "block-size", o_direct: "direct" },
  schema: v.strictObject({
    path: described(path, "PATH", "Path to the disk image."),
    ro: v.optional(described(boolean, "BOOL", "Whether the block should be read-only."), false),
    root: v.optional(
      described(
        boolean,
        "BOOL",
        "Whether the block device should be mounted as the root filesystem. This will add the required " +
          "parameters to the kernel command-line. Can only be specified once.",
      ),
      false,
    ),
    sparse: v.optional(
      described(boolean, "BOOL", "Indicates whether the disk should support the discard operation."),
      true,
    ),
    "block-size": v.optional(
      described(
        v.pipe(
          v.number("a power of two >= 512"),
          v.check((n) => n >= 512 && n <= 2 ** 31 && isPowerOfTwo(n), "a power of two >= 512"),
        ),
        "BYTES",
        "Set the reported block size of the disk, a power of two >= 512.",
      ),
      512,
    ),
    id: v.optional(
      described(
        v.pipe(
          v.string(`up to ${DISK_ID_LEN} printable ASCII characters`),
          v.check(
            (s) => s.length <= DISK_ID_LEN && /^[\x20-\x7e]*$/.test(s),
            `up to ${DISK_ID_LEN} printable ASCII characters`,
          ),
        ),
        "STRING",
        `Set the block device identifier to an ASCII string, up to ${DISK_ID_LEN} characters.`,
        "no ID",
      ),
    ),
    direct: v.optional(described(boolean, "BOOL", "Use O_DIRECT mode to bypass page cache."), false),
    // crosvm's DiskOption `lock`: flock the image (exclusive when writable, shared when read-only).
    lock: v.optional(described(boolean, "BOOL", "Whether to lock the disk files. Uses flock on Unix."), true),
  }),
} satisfies KeyValueSpec;

export type BlockArgs = v.InferOutput<typeof blockSpec.schema>;

/** --vsock: crosvm's VsockConfig (devices/src/virtio/vsock/mod.rs): `--vsock 3` or `--vsock cid=3,device=PATH`. */
export const vsockSpec = {
  option: "--vsock",
  firstKey: "cid",
  schema: v.strictObject({
    cid: described(cidSchema, "CID", "CID to use for the device."),
    device: v.optional(
      described(path, "VHOST_DEVICE", "path to the vhost-vsock device to use (Linux only)."),
      DEFAULT_VHOST_VSOCK_DEVICE,
    ),
  }),
} satisfies KeyValueSpec;

export type VsockArgs = v.InferOutput<typeof vsockSpec.schema>;

/** --pmem: crosvm's PmemOption (src/crosvm/config.rs); swap-interval-ms is not supported. */
export const pmemSpec = {
  option: "--pmem",
  firstKey: "path",
  aliases: { vma_size: "vma-size" },
  schema: v.strictObject({
    path: described(
      path,
      "PATH",
      "Path to the disk image (a raw file: it is mapped into guest memory as it is).",
    ),
    ro: v.optional(described(boolean, "BOOL", "Whether the pmem device should be read-only."), false),
    root: v.optional(
      described(
        boolean,
        "BOOL",
        "Whether the pmem device should be mounted as the root filesystem. This will add the required " +
          "parameters to the kernel command-line. Can only be specified once.",
      ),
      false,
    ),
    "vma-size": v.optional(
      described(
        v.pipe(
          v.number("a positive integer"),
          v.safeInteger("a positive integer"),
          v.minValue(1, "a positive integer"),
        ),
        "BYTES",
        "(Experimental) Size in bytes of an anonymous virtual memory area backing the device instead of PATH.",
        "none",
      ),
    ),
  }),
} satisfies KeyValueSpec;

export type PmemArgs = v.InferOutput<typeof pmemSpec.schema>;

// "legacy-virtio-console" is crosvm's serde alias of virtio-console.
const HARDWARE_NAMES = [...SERIAL_HARDWARE, "legacy-virtio-console"] as const;

const serialKeys = v.strictObject({
  type: v.optional(
    described(
      v.picklist(SERIAL_TYPES, `one of ${SERIAL_TYPES.join(", ")}`),
      undefined,
      "Where to route the serial device.",
    ),
    "sink",
  ),
  hardware: v.optional(
    described(
      v.pipe(
        v.picklist(HARDWARE_NAMES, `one of ${SERIAL_HARDWARE.join(", ")}`),
        v.transform((h): SerialHardware => (h === "legacy-virtio-console" ? "virtio-console" : h)),
      ),
      `(${SERIAL_HARDWARE.join(",")})`,
      "Which type of serial hardware to emulate: an 8250 UART (COM1-COM4), a virtio console port or a debugcon port.",
    ),
    "serial",
  ),
  num: v.optional(
    described(
      integer("an integer from 1 to 255", 1, 255),
      "NUM",
      "Serial Device Number (1 to 4 for COM1-COM4).",
    ),
    1,
  ),
  path: v.optional(
    described(path, "PATH", "The path to the file to write to when type=file, or the socket when type=unix."),
  ),
  input: v.optional(described(path, "PATH", "The path to the file to read from when not stdin.")),
  console: v.optional(
    described(
      boolean,
      "BOOL",
      "Use this serial device as the guest console. Will default to first serial port if not provided.",
    ),
    false,
  ),
  earlycon: v.optional(
    described(boolean, "BOOL", "Use this serial device as the early console. Can only be given once."),
    false,
  ),
  stdin: v.optional(
    described(
      boolean,
      "BOOL",
      "Direct standard input to this serial device. Can only be given once. Will default to first serial port " +
        "if not provided.",
    ),
    false,
  ),
  "debugcon-port": v.optional(
    described(
      integer("a port number from 0 to 65535", 0, 0xffff),
      "PORT",
      "Port for the debugcon device to listen to (0x402 is what OVMF expects).",
      `0x${DEFAULT_DEBUGCON_PORT.toString(16)}`,
    ),
    DEFAULT_DEBUGCON_PORT,
  ),
});

export const serialSpec = {
  option: "--serial",
  firstKey: "type",
  aliases: { debugcon_port: "debugcon-port" },
  // The per-port rules (devices/serial/parameters.ts), reported at the key at fault.
  schema: v.pipe(
    serialKeys,
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const problem = serialPortProblem(dataset.value);
      if (problem === undefined) return;
      const value = dataset.value[problem.key];
      addIssue({
        message: problem.expected,
        path: [{ type: "object", origin: "value", input: dataset.value, key: problem.key, value }],
      });
    }),
  ),
} satisfies KeyValueSpec;

export type SerialArgs = v.InferOutput<typeof serialSpec.schema>;

export const memSpec = {
  option: "--mem",
  firstKey: "size",
  schema: v.strictObject({
    size: v.optional(
      described(
        integer("a size in MiB from 1", 1, Number.MAX_SAFE_INTEGER),
        "NUM",
        "amount of guest memory in MiB.",
      ),
      DEFAULT_MEM_MIB,
    ),
  }),
} satisfies KeyValueSpec;

export type MemArgs = v.InferOutput<typeof memSpec.schema>;

export const cpusSpec = {
  option: "--cpus",
  firstKey: "num-cores",
  schema: v.strictObject({
    // KVM_CAP_MAX_VCPUS is at least 255 on x86; the VMM checks the host's limit when it creates the vCPUs.
    "num-cores": v.optional(
      described(integer("a vCPU count from 1 to 255", 1, 255), "NUM", "number of VCPUs."),
      DEFAULT_CPUS,
    ),
  }),
} satisfies KeyValueSpec;

export type CpusArgs = v.InferOutput<typeof cpusSpec.schema>;

/** crosvm's ScsiOption (devices/src/virtio/scsi/mod.rs): path, ro, root, block-size and lock, as --block has them. */
export const scsiSpec = {
  option: "--scsi-block",
  firstKey: "path",
  aliases: { block_size: "block-size" },
  schema: v.strictObject({
    path: blockSpec.schema.entries.path,
    ro: blockSpec.schema.entries.ro,
    root: blockSpec.schema.entries.root,
    "block-size": blockSpec.schema.entries["block-size"],
    lock: blockSpec.schema.entries.lock,
  }),
} satisfies KeyValueSpec;

export type ScsiArgs = v.InferOutput<typeof scsiSpec.schema>;
// crosvm's NetParameters (devices/src/virtio/net.rs): one of the modes tap-name, tap-fd, or host-ip with netmask
// and mac (the VMM creates and configures the TAP), plus mac, vq-pairs and packed-queue. The rules across keys
// (exactly one mode; host-ip needs netmask and mac) are checks at the key at fault.
const netKeys = v.strictObject({
  "tap-name": v.optional(
    described(
      v.pipe(
        v.string("an interface name"),
        v.check((s) => /^[^/\s:]{1,15}$/.test(s), "an interface name of 1 to 15 characters"),
      ),
      "NAME",
      "Name of a TAP interface to attach to (it must exist).",
    ),
  ),
  "tap-fd": v.optional(
    described(
      integer("a descriptor number", 0, 2 ** 31 - 1),
      "FD",
      "Descriptor of an open TAP, passed by the caller.",
    ),
  ),
  "host-ip": v.optional(
    described(
      v.pipe(
        v.string("an IPv4 address"),
        v.check((s) => parseIpv4(s) !== undefined, "an IPv4 address"),
      ),
      "IP",
      "The host's IP address on a TAP the VMM creates (needs CAP_NET_ADMIN; with netmask and mac).",
    ),
  ),
  netmask: v.optional(
    described(
      v.pipe(
        v.string("an IPv4 netmask"),
        v.check((s) => parseNetmask(s) !== undefined, "an IPv4 netmask"),
      ),
      "MASK",
      "Netmask of the host-ip subnet.",
    ),
  ),
  mac: v.optional(
    described(
      v.pipe(
        v.string(MAC_EXPECTED),
        v.check((s) => parseMac(s) !== undefined, MAC_EXPECTED),
      ),
      "MAC",
      "The guest's MAC address.",
      "chosen by the guest",
    ),
  ),
  "vq-pairs": v.optional(
    described(
      integer(`a pair count from 1 to ${MAX_VQ_PAIRS}`, 1, MAX_VQ_PAIRS),
      "N",
      "Number of rx/tx virtqueue pairs (and TAP queues; vq-pairs > 1 needs a multi-queue TAP).",
    ),
    1,
  ),
  "packed-queue": v.optional(
    described(boolean, "BOOL", "Use packed virtqueues (not supported: only false is accepted)."),
    false,
  ),
  "vhost-net": v.optional(
    described(
      boolean,
      "BOOL",
      "Move rx and tx into the host kernel's vhost-net (/dev/vhost-net; modprobe vhost_net).",
    ),
    false,
  ),
});

/** The key at fault in a --net value, or undefined. */
export function netKeysProblem(
  n: v.InferOutput<typeof netKeys>,
): { key: string; expected: string } | undefined {
  const modes = (["tap-name", "tap-fd", "host-ip"] as const).filter((k) => n[k] !== undefined);
  if (modes.length === 0) return { key: "tap-name", expected: "one of tap-name, tap-fd or host-ip" };
  if (modes.length > 1)
    return { key: modes[1]!, expected: `only one of tap-name, tap-fd, host-ip (${modes[0]} was given)` };
  if (n["host-ip"] !== undefined) {
    if (n.netmask === undefined) return { key: "netmask", expected: "a netmask with host-ip" };
    if (n.mac === undefined) return { key: "mac", expected: "a MAC address with host-ip" };
  } else if (n.netmask !== undefined) return { key: "netmask", expected: "no netmask without host-ip" };
  if (n["packed-queue"])
    return { key: "packed-queue", expected: "false (packed virtqueues are not supported)" };
  return undefined;
}

export const netSpec = {
  option: "--net",
  aliases: {
    tap_name: "tap-name",
    tap_fd: "tap-fd",
    host_ip: "host-ip",
    vq_pairs: "vq-pairs",
    packed_queue: "packed-queue",
    vhost_net: "vhost-net",
  },
  schema: v.pipe(
    netKeys,
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const problem = netKeysProblem(dataset.value);
      if (problem === undefined) return;
      const value = dataset.value[problem.key as keyof typeof dataset.value];
      addIssue({
        message: problem.expected,
        path: [{ type: "object", origin: "value", input: dataset.value, key: problem.key, value }],
      });
    }),
  ),
} satisfies KeyValueSpec;

export type NetArgs = v.InferOutput<typeof netSpec.schema>;
/** virtio-fs's tag field is 36 bytes (struct virtio_fs_config, virtio 1.2 section 5.11.4). */
export const SHARED_DIR_TAG_BYTES = 36;
const idMapText = v.pipe(
  v.string('an id map "inner outer count[,inner outer count]"'),
  v.check(
    (s) => /^\s*\d+\s+\d+\s+\d+\s*(,\s*\d+\s+\d+\s+\d+\s*)*$/.test(s),
    'an id map "inner outer count[,inner outer count]"',
  ),
);

// crosvm's SharedDir (src/crosvm/config.rs) and its --shared-dir help: PATH:TAG[:key=value...], colon-separated.
export const sharedDirSpec = {
  option: "--shared-dir",
  firstKey: "path",
  aliases: { "ascii-casefold": "ascii_casefold", "posix-acl": "posix_acl" },
  schema: v.strictObject({
    path: described(path, "PATH", "The directory to share (the first field)."),
    tag: described(
      v.pipe(
        v.string(`a tag of 1 to ${SHARED_DIR_TAG_BYTES} bytes`),
        v.check((t) => {
          const n = new TextEncoder().encode(t).length;
          return n >= 1 && n <= SHARED_DIR_TAG_BYTES;
        }, `a tag of 1 to ${SHARED_DIR_TAG_BYTES} bytes`),
      ),
      "TAG",
      "The tag the guest mounts the directory by (the second field).",
    ),
    type: v.optional(
      described(
        v.picklist(["fs", "p9"], "fs or p9"),
        undefined,
        "Indicates whether the directory should be shared via virtio-fs or virtio-9p (uidmap, gidmap, uid, gid and ascii_casefold apply to both; the cache keys to fs).",
      ),
      "fs",
    ),
    cache: v.optional(
      described(
        v.picklist(["never", "auto", "always"], "never, auto or always"),
        undefined,
        "Indicates whether the VM can cache the contents of the shared directory.",
      ),
      "auto",
    ),
    timeout: v.optional(
      described(
        integer("a number of seconds", 0, 2 ** 32 - 1),
        "SECONDS",
        "How long the VM should consider file attributes and directory entries to be valid.",
      ),
      5,
    ),
    writeback: v.optional(described(boolean, "BOOL", "Enables writeback caching."), false),
    "rewrite-security-xattrs": v.optional(
      described(
        boolean,
        "BOOL",
        "Store the guest's security.* extended attributes as user.virtiofs.security.* on the host.",
      ),
      false,
    ),
    ascii_casefold: v.optional(
      described(boolean, "BOOL", "Look names up ignoring ASCII case when the exact name is not found."),
      false,
    ),
    posix_acl: v.optional(
      described(boolean, "BOOL", "Indicates whether the shared directory supports POSIX ACLs."),
      true,
    ),
    uidmap: v.optional(
      described(idMapText, "UIDMAP", 'Guest to host uid map, "inner outer count[,inner outer count]".'),
    ),
    gidmap: v.optional(
      described(idMapText, "GIDMAP", 'Guest to host gid map, "inner outer count[,inner outer count]".'),
    ),
    uid: v.optional(
      described(
        integer(`a uid from 0 to ${MAX_VALID_ID}`, 0, MAX_VALID_ID),
        "UID",
        "uid of the device process, a guest uid the uidmap maps (0: it keeps its own; otherwise it runs as that user, without privileges).",
      ),
      0,
    ),
    gid: v.optional(
      described(
        integer(`a gid from 0 to ${MAX_VALID_ID}`, 0, MAX_VALID_ID),
        "GID",
        "gid of the device process, a guest gid the gidmap maps (0: it keeps its own).",
      ),
      0,
    ),
    dax: v.optional(
      described(
        v.pipe(
          boolean,
          v.check((d) => !d, "false (DAX is not built into this crosvm)"),
        ),
        "BOOL",
        "Enables DAX support (not built in: only false is accepted).",
      ),
      false,
    ),
  }),
} satisfies KeyValueSpec;

export type SharedDirArgs = v.InferOutput<typeof sharedDirSpec.schema>;

/** Turns crosvm's colon syntax PATH:TAG[:key=value...] into the key=value syntax of the other options. */
export function sharedDirKeyValues(text: string): string {
  const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const [dir = "", tag, ...rest] = text.split(":");
  const parts = [`path=${quote(dir)}`];
  if (tag !== undefined) parts.push(`tag=${quote(tag)}`);
  for (const kv of rest) {
    const eq = kv.indexOf("=");
    parts.push(eq < 0 ? kv : `${kv.slice(0, eq)}=${quote(kv.slice(eq + 1))}`);
  }
  return parts.join(",");
}
