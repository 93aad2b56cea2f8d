// The virtio-console device kind (kind.ts): one device per --serial hardware=virtio-console port, in port order.
// The VMM opens the port's output (stdout or a file) and input (a file or stdin) and hands them over; the device
// process writes guest output to the first and polls the second for guest input.
import * as v from "valibot";
import {
  close,
  dup,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  open,
  read,
} from "../../../ffi/libc.ts";
import { logger } from "../../base/log.ts";
import { CONSOLE_QUEUE_SIZE, FdConsoleOutput, VirtioConsole } from "./console.ts";
import { defineDeviceKind, type PollSource } from "./kind.ts";

const log = logger("devices::virtio::console");

const SERIAL_TYPES = ["stdout", "file", "sink", "syslog", "unix"] as const;

/** The part of one --serial option the port uses (the VMM's SerialParameters have these fields). */
export interface ConsolePortConfig {
  readonly hardware: string;
  readonly type: (typeof SERIAL_TYPES)[number];
  readonly num: number;
  readonly path?: string;
  readonly input?: string;
  readonly stdin: boolean;
}

export const consoleOptionsSchema = v.strictObject(
  {
    num: v.pipe(v.number("a port number"), v.integer("a port number"), v.minValue(1, "a port number")),
    type: v.picklist(SERIAL_TYPES, `one of ${SERIAL_TYPES.join(", ")}`),
    path: v.optional(v.string("a file path")),
    input: v.optional(v.string("a file path")),
    stdin: v.boolean("a boolean"),
  },
  "an object",
);

export type ConsoleDeviceOptions = v.InferOutput<typeof consoleOptionsSchema>;

/** Which files a port has, in the order they are handed over (both sides derive it from the same options). */
export function consoleFiles(o: ConsoleDeviceOptions): { output: boolean; input: boolean } {
  return {
    output: o.type === "stdout" || (o.type === "file" && o.path !== undefined),
    input: o.input !== undefined || o.stdin,
  };
}

export const consoleKind = defineDeviceKind({
  name: "console",
  policy: "serial_device",
  schema: consoleOptionsSchema,
  queueSizes: [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE],
  select: (config: { readonly serials: readonly ConsolePortConfig[] }) =>
    config.serials
      .filter((s) => s.hardware === "virtio-console")
      .map((s) => ({
        num: s.num,
        type: s.type,
        ...(s.path === undefined ? {} : { path: s.path }),
        ...(s.input === undefined ? {} : { input: s.input }),
        stdin: s.stdin,
      })),
  prepare(o) {
    const label = `virtio-console ${o.num}`;
    const files = consoleFiles(o);
    const backing: number[] = [];
    try {
      if (files.output)
        backing.push(
          o.type === "stdout" ? dup(1) : open(o.path!, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644),
        );
      else if (o.type !== "sink")
        log.warn(`${label}: type=${o.type} output is not supported; output is discarded`);
      if (files.input) backing.push(o.input !== undefined ? open(o.input, O_RDONLY | O_CLOEXEC) : dup(0));
    } catch (e) {
      for (const fd of backing) close(fd);
      throw e;
    }
    return { label, backing };
  },
  build(o, backing) {
    const files = consoleFiles(o);
    const expected = Number(files.output) + Number(files.input);
    if (backing.length !== expected)
      throw new Error(`virtio-console ${o.num}: got ${backing.length} descriptors, expected ${expected}`);
    const device = new VirtioConsole(files.output ? new FdConsoleOutput(backing[0]!) : undefined);
    const pollSources: PollSource[] = [];
    if (files.input) pollSources.push(inputSource(backing[backing.length - 1]!, device));
    return { device, pollSources };
  },
});

/** Guest input: whatever is readable on `fd` goes to the port's receive queue; EOF or an error ends it. */
function inputSource(fd: number, device: VirtioConsole): PollSource {
  const buf = new Uint8Array(4096);
  return {
    fd,
    onReadable: () => {
      let n: number;
      try {
        n = read(fd, buf, `console input fd ${fd}`);
      } catch {
        n = -1;
      }
      if (n <= 0) return false;
      device.pushInput(buf.subarray(0, n));
      return true;
    },
  };
}
