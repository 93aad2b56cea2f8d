// --input (crosvm's InputDeviceOption, src/crosvm/config.rs; the book's "Input device types"): one virtio-input
// device, given as TYPE[key=value,...] on the command line (serde_keyvalue's form of an enum variant with
// fields) and as {"TYPE": {key: value}} in a --cfg file (serde's externally tagged enum). Both decode to the file
// form, so a decoded value written to a file reads back the same; build_config.ts turns it into the VM's
// InputDeviceOption. Each type's keys are a valibot schema, checked by the one key=value parser (keyvalue.ts).
import * as v from "valibot";
import {
  INPUT_TYPES,
  inputNameSchema,
  type InputDeviceOption,
  type InputType,
  TOUCH_SIZE_MAX,
} from "../devices/virtio/input/kind.ts";
import { DEFAULT_TOUCH_HEIGHT, DEFAULT_TOUCH_WIDTH } from "../devices/virtio/input/defaults.ts";
import { ArgumentError } from "./errors.ts";
import { decodeKeyValues } from "./keyvalue.ts";
import { path } from "./option_specs.ts";
import type { OptionEntry } from "./option_table.ts";
import type { KeyValueSpec } from "./schema_shape.ts";

const sizeRange = `an integer from 1 to ${TOUCH_SIZE_MAX}`;
const size = v.pipe(
  v.number(sizeRange),
  v.integer(sizeRange),
  v.minValue(1, sizeRange),
  v.maxValue(TOUCH_SIZE_MAX, sizeRange),
);

const pathOnly = v.strictObject({ path }, 'an object such as {"path": "/tmp/socket"}');
const touch = v.strictObject(
  {
    path,
    width: v.optional(size),
    height: v.optional(size),
    name: v.optional(inputNameSchema),
  },
  'an object such as {"path": "/tmp/socket", "width": 1920, "height": 1080}',
);

/** The keys of each type (crosvm's InputDeviceOption variants). */
export const INPUT_TYPE_SCHEMAS = {
  evdev: pathOnly,
  keyboard: pathOnly,
  mouse: pathOnly,
  "multi-touch": touch,
  rotary: pathOnly,
  "single-touch": touch,
  switches: pathOnly,
  trackpad: touch,
} satisfies Record<InputType, v.GenericSchema>;

type TypeArgs = { [T in InputType]: { [K in T]: v.InferOutput<(typeof INPUT_TYPE_SCHEMAS)[T]> } };
/** One --input as given: a one-key object naming its type. */
export type InputArgs = TypeArgs[InputType];

function isInputType(name: string): name is InputType {
  return (INPUT_TYPES as readonly string[]).includes(name);
}

const TYPE_LIST = INPUT_TYPES.join(", ");

/** `TYPE[key=value,...]` (or a bare `TYPE`, which then misses its path) to its file form. */
export function decodeInput(text: string, option: string): InputArgs {
  const m = /^([A-Za-z0-9_-]+)(?:\[(.*)\])?$/s.exec(text);
  if (!m)
    throw new ArgumentError(
      `${option}: invalid value ${JSON.stringify(text)}: expected TYPE[key=value,...] with TYPE one of ${TYPE_LIST}`,
    );
  const type = m[1]!;
  if (!isInputType(type))
    throw new ArgumentError(`${option}: unknown input device type "${type}" (expected one of: ${TYPE_LIST})`);
  const spec: KeyValueSpec = { option: `${option} ${type}`, schema: INPUT_TYPE_SCHEMAS[type] };
  return { [type]: decodeKeyValues(spec, m[2] ?? "") } as InputArgs;
}

/** The file form: {"TYPE": {...}} with exactly one known type, whose keys are checked with its schema. */
export const inputFileSchema = v.pipe(
  v.record(v.string(), v.unknown(), `an object such as {"keyboard": {"path": "/tmp/socket"}}`),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const keys = Object.keys(dataset.value);
    const type = keys[0];
    if (keys.length !== 1 || type === undefined || !isInputType(type)) {
      addIssue({ message: `one key naming the input device type (${TYPE_LIST})` });
      return NEVER;
    }
    const inner = dataset.value[type];
    const result = v.safeParse(INPUT_TYPE_SCHEMAS[type], inner);
    if (result.success) return { [type]: result.output } as InputArgs;
    const issue = result.issues[0];
    const key = issue.path?.[0]?.key;
    const missing = issue.type === "strict_object" && issue.input === undefined;
    const unknown = issue.type === "strict_object" && issue.expected === "never";
    const at: { type: "object"; origin: "value"; input: unknown; key: string; value: unknown }[] = [
      { type: "object", origin: "value", input: dataset.value, key: type, value: inner },
    ];
    if (key !== undefined)
      at.push({ type: "object", origin: "value", input: inner, key: String(key), value: issue.input });
    addIssue({
      message: unknown
        ? `a key of ${type} (${Object.keys(INPUT_TYPE_SCHEMAS[type].entries).join(", ")})`
        : missing
          ? "a value (the key is required)"
          : issue.message,
      input: issue.input,
      path: at as never,
    });
    return NEVER;
  }),
);

/** crosvm's help for --input, with each type's keys. */
const HELP = `virtio-input device. Can be given more than once.
Possible types and keys:
evdev[path=PATH] - grab the host event device PATH (e.g. /dev/input/event0) and pass it to the guest
keyboard[path=PATH] - keyboard fed from the event source socket PATH
mouse[path=PATH] - mouse fed from the event source socket PATH
multi-touch[path=PATH,width=W,height=H,name=N] - multi-touch touchscreen
rotary[path=PATH] - rotating side button/wheel
single-touch[path=PATH,width=W,height=H,name=N] - single-touch touchscreen
switches[path=PATH] - switches (e.g. for accessibility)
trackpad[path=PATH,width=W,height=H,name=N] - trackpad
width and height default to ${DEFAULT_TOUCH_WIDTH} and ${DEFAULT_TOUCH_HEIGHT}. An event source socket is a UNIX stream socket another program listens on; it carries struct virtio_input_event records.`;

export const inputOption: OptionEntry<InputArgs, true> = {
  argName: "TYPE[key=value,...]",
  repeatable: true,
  help: HELP,
  decode: decodeInput,
  file: inputFileSchema as unknown as v.GenericSchema<unknown, InputArgs>,
  fileList: "a list of input devices",
  example: "multi-touch[path=/tmp/multi-touch-socket,width=1920,height=1080,name=mytouch2]",
};

/** The VM's view of one --input. */
export function toInputDevice(args: InputArgs): InputDeviceOption {
  const [type, keys] = Object.entries(args)[0] as [InputType, Record<string, unknown>];
  const device: { -readonly [K in keyof InputDeviceOption]: InputDeviceOption[K] } = {
    type,
    path: keys.path as string,
  };
  if (keys.width !== undefined) device.width = keys.width as number;
  if (keys.height !== undefined) device.height = keys.height as number;
  if (keys.name !== undefined) device.name = keys.name as string;
  return device;
}
