// The key=value options of `crosvm run`, as valibot schemas shared by the command line and --cfg files. Keys,
// aliases and defaults follow crosvm: DiskOption (devices/src/virtio/block/mod.rs), SerialParameters and
// validate_serial_parameters (devices/src/serial_device.rs, src/crosvm/config.rs), MemOptions and CpuOptions
// (src/crosvm/config.rs). Each message is the "expected ..." phrase of an error.
import * as v from "valibot";
import type { KeyValueSpec } from "./schema_shape.ts";

const bool = (fallback: boolean) => v.optional(v.boolean("a boolean"), fallback);
const integer = (range: string, min: number, max: number) =>
  v.pipe(v.number(range), v.integer(range), v.minValue(min, range), v.maxValue(max, range));
const path = v.pipe(v.string("a path"), v.nonEmpty("a non-empty path"));

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
    path,
    ro: bool(false),
    root: bool(false),
    sparse: bool(true),
    "block-size": v.optional(
      v.pipe(
        v.number("a power of two >= 512"),
        v.check((n) => n >= 512 && n <= 2 ** 31 && isPowerOfTwo(n), "a power of two >= 512"),
      ),
      512,
    ),
    id: v.optional(
      v.pipe(
        v.string(`up to ${DISK_ID_LEN} printable ASCII characters`),
        v.check(
          (s) => s.length <= DISK_ID_LEN && /^[\x20-\x7e]*$/.test(s),
          `up to ${DISK_ID_LEN} printable ASCII characters`,
        ),
      ),
    ),
    direct: bool(false),
    // crosvm's DiskOption `lock`: flock the image (exclusive when writable, shared when read-only).
    lock: bool(true),
  }),
} satisfies KeyValueSpec;

export type BlockArgs = v.InferOutput<typeof blockSpec.schema>;

const SERIAL_TYPES = ["stdout", "file", "sink", "syslog", "unix"] as const;
// "legacy-virtio-console" is crosvm's serde alias of virtio-console.
const SERIAL_HARDWARE = ["serial", "virtio-console", "legacy-virtio-console", "debugcon"] as const;

export const serialSpec = {
  option: "--serial",
  firstKey: "type",
  aliases: { debugcon_port: "debugcon-port" },
  schema: v.strictObject({
    type: v.optional(v.picklist(SERIAL_TYPES, `one of ${SERIAL_TYPES.join(", ")}`), "sink"),
    hardware: v.optional(v.picklist(SERIAL_HARDWARE, "one of serial, virtio-console, debugcon"), "serial"),
    num: v.optional(integer("an integer from 1 to 255", 1, 255), 1),
    path: v.optional(path),
    input: v.optional(path),
    console: bool(false),
    earlycon: bool(false),
    stdin: bool(false),
    "debugcon-port": v.optional(integer("a port number from 0 to 65535", 0, 0xffff), 0x402),
  }),
} satisfies KeyValueSpec;

export type SerialArgs = v.InferOutput<typeof serialSpec.schema>;

/** crosvm validate_serial_parameters and the device constructors' checks; `undefined` when the port is valid. */
export function serialProblem(s: SerialArgs): { key: keyof SerialArgs; expected: string } | undefined {
  if (s.stdin && s.input !== undefined) return { key: "input", expected: "no input file when stdin is set" };
  if (s.hardware === "serial" && s.num > 4)
    return { key: "num", expected: "1 to 4 for hardware=serial (COM1-COM4)" };
  if ((s.type === "file" || s.type === "unix") && s.path === undefined)
    return { key: "path", expected: `a path for type=${s.type}` };
  if (s.earlycon && s.hardware !== "serial")
    return { key: "earlycon", expected: "false unless hardware=serial" };
  return undefined;
}

export const memSpec = {
  option: "--mem",
  firstKey: "size",
  schema: v.strictObject({
    size: v.optional(integer("a size in MiB from 1", 1, Number.MAX_SAFE_INTEGER)),
  }),
} satisfies KeyValueSpec;

export type MemArgs = v.InferOutput<typeof memSpec.schema>;

export const cpusSpec = {
  option: "--cpus",
  firstKey: "num-cores",
  schema: v.strictObject({
    // KVM_CAP_MAX_VCPUS is at least 255 on x86; the VMM checks the host's limit when it creates the vCPUs.
    "num-cores": v.optional(integer("a vCPU count from 1 to 255", 1, 255)),
  }),
} satisfies KeyValueSpec;

export type CpusArgs = v.InferOutput<typeof cpusSpec.schema>;
