// The virtio-input device kind (../kind.ts): one device per --input, in the order given. The VMM connects the
// event source socket (or opens the evdev node and checks it is one) before the device process starts, so a
// missing socket or a wrong node is one line before the VM runs; the device process reads the evdev node's
// configuration, grabs it, and then serves the device with the source as a PollSource.
import * as v from "valibot";
import {
  AF_UNIX,
  close,
  connect,
  fcntl,
  F_GETFL,
  F_SETFL,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  open,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  socket,
  sockaddrUn,
} from "../../../../ffi/libc.ts";
import { defineDeviceKind } from "../kind.ts";
import { INPUT_CONFIG_UNION_SIZE, INPUT_QUEUE_SIZE } from "./constants.ts";
import { defaultInputConfig, SOCKET_INPUT_KINDS, type SocketInputKind } from "./defaults.ts";
import { VirtioInput } from "./device.ts";
import { evdevConfig, grabEvdev, notAnEventDevice } from "./evdev.ts";
import { evdevSource, evdevStatusSink, socketSource, socketStatusSink } from "./sources.ts";

export const INPUT_TYPES = ["evdev", ...SOCKET_INPUT_KINDS] as const;
export type InputType = (typeof INPUT_TYPES)[number];

/** One --input device as the VM configuration holds it (crosvm's InputDeviceOption). */
export interface InputDeviceOption {
  readonly type: InputType;
  readonly path: string;
  readonly width?: number;
  readonly height?: number;
  readonly name?: string;
}

/** A touch surface's side: crosvm's u32, kept to what virtio_input_absinfo's le32 max shows as positive. */
export const TOUCH_SIZE_MAX = 0x7fffffff;
const size = v.pipe(
  v.number(`an integer from 1 to ${TOUCH_SIZE_MAX}`),
  v.integer(`an integer from 1 to ${TOUCH_SIZE_MAX}`),
  v.minValue(1, `an integer from 1 to ${TOUCH_SIZE_MAX}`),
  v.maxValue(TOUCH_SIZE_MAX, `an integer from 1 to ${TOUCH_SIZE_MAX}`),
);
/** ID_NAME holds at most 128 bytes (5.8.4). */
export const inputNameSchema = v.pipe(
  v.string(`a name of 1 to ${INPUT_CONFIG_UNION_SIZE} bytes`),
  v.check(
    (s) => s.length > 0 && new TextEncoder().encode(s).length <= INPUT_CONFIG_UNION_SIZE,
    `a name of 1 to ${INPUT_CONFIG_UNION_SIZE} bytes`,
  ),
);

export const inputOptionsSchema = v.strictObject(
  {
    type: v.picklist(INPUT_TYPES, `one of ${INPUT_TYPES.join(", ")}`),
    path: v.pipe(v.string("a path"), v.nonEmpty("a non-empty path")),
    /** crosvm's idx: the device's position among the --input devices (its default name and serial). */
    index: v.pipe(v.number("an index"), v.integer("an index"), v.minValue(0, "an index")),
    width: v.optional(size),
    height: v.optional(size),
    name: v.optional(inputNameSchema),
  },
  "an object",
);

export type InputKindOptions = v.InferOutput<typeof inputOptionsSchema>;

/** The VMM's error for one --input device: one line naming the device and what is wrong. */
export class InputSourceError extends Error {
  override name = "InputSourceError";
}

function describe(o: InputKindOptions): string {
  return `--input ${o.type}[path=${o.path}]`;
}

/** Connects to the event source socket (another program listens on it; the crosvm book). */
function connectSource(o: InputKindOptions): number {
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, describe(o));
  try {
    connect(fd, sockaddrUn(o.path), o.path);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    return fd;
  } catch (e) {
    close(fd);
    throw new InputSourceError(
      `${describe(o)}: cannot connect to the event source socket: ${(e as Error).message}`,
    );
  }
}

/** Opens the host event device, read-write (status events such as LEDs go back to it). */
function openEvdev(o: InputKindOptions): number {
  let fd: number;
  try {
    fd = open(o.path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  } catch (e) {
    throw new InputSourceError(`${describe(o)}: cannot open the evdev device: ${(e as Error).message}`);
  }
  const problem = notAnEventDevice(fd);
  if (problem !== undefined) {
    close(fd);
    throw new InputSourceError(`${describe(o)}: ${problem}`);
  }
  return fd;
}

export const inputKind = defineDeviceKind({
  name: "input",
  policy: "input_device",
  schema: inputOptionsSchema,
  queueSizes: [INPUT_QUEUE_SIZE, INPUT_QUEUE_SIZE],
  select: (config: { readonly inputs?: readonly InputDeviceOption[] }) =>
    (config.inputs ?? []).map((o, index) => ({ ...o, index })),
  prepare(o) {
    const fd = o.type === "evdev" ? openEvdev(o) : connectSource(o);
    return { label: `virtio-input ${o.index} (${o.type} ${o.path})`, backing: [fd] };
  },
  build(o, backing) {
    const fd = backing[0];
    if (fd === undefined || backing.length !== 1)
      throw new Error(`virtio-input ${o.index}: got ${backing.length} descriptors, expected 1`);
    const label = `virtio-input ${o.index} (${o.type})`;
    if (o.type === "evdev") {
      const device = new VirtioInput(label, evdevConfig(fd), evdevStatusSink(fd));
      grabEvdev(fd);
      return { device, pollSources: [evdevSource(fd, device)] };
    }
    const config = defaultInputConfig({
      kind: o.type as SocketInputKind,
      index: o.index,
      ...(o.width === undefined ? {} : { width: o.width }),
      ...(o.height === undefined ? {} : { height: o.height }),
      ...(o.name === undefined ? {} : { name: o.name }),
    });
    const device = new VirtioInput(label, config, socketStatusSink(fd));
    return { device, pollSources: [socketSource(fd, device)] };
  },
});
