// The configuration of each socket-fed input kind, as crosvm makes it (devices/src/virtio/input/defaults.rs):
// names "Crosvm Virtio <Kind> <index>" unless a touch device is given one, serials "virtio-<kind>-<index>", zero
// ids, and the event types, codes and axis ranges of each kind.
import { type AbsInfo, bitmapOf, type InputDeviceConfig } from "./config.ts";
import {
  ABS_MT_POSITION_X,
  ABS_MT_POSITION_Y,
  ABS_MT_SLOT,
  ABS_MT_TRACKING_ID,
  ABS_X,
  ABS_Y,
  BTN_LEFT,
  BTN_MIDDLE,
  BTN_RIGHT,
  BTN_TOOL_FINGER,
  BTN_TOUCH,
  EV_ABS,
  EV_KEY,
  EV_LED,
  EV_REL,
  EV_REP,
  EV_SW,
  INPUT_PROP_DIRECT,
  KEYBOARD_KEYS,
  LED_CAPSL,
  LED_NUML,
  LED_SCROLLL,
  REL_WHEEL,
  REL_X,
  REL_Y,
  REP_DELAY,
  REP_PERIOD,
  SWITCHES,
} from "./constants.ts";

/** The input kinds fed from a socket (the book's "Input device types" other than evdev). */
export const SOCKET_INPUT_KINDS = [
  "keyboard",
  "mouse",
  "multi-touch",
  "rotary",
  "single-touch",
  "switches",
  "trackpad",
] as const;
export type SocketInputKind = (typeof SOCKET_INPUT_KINDS)[number];

/** Kinds with a screen-sized surface, and their width/height/name keys. */
export const TOUCH_INPUT_KINDS: readonly SocketInputKind[] = ["multi-touch", "single-touch", "trackpad"];

/** The book's default size of a touch surface ("width ... (default: 1280)", "height ... (default: 1024)"). */
export const DEFAULT_TOUCH_WIDTH = 1280;
export const DEFAULT_TOUCH_HEIGHT = 1024;
/** crosvm's multi-touch slot and tracking-id ranges (default_multitouchscreen_absinfo(width, height, 10, 10)). */
const MT_SLOTS = 10;
const MT_TRACKING_IDS = 10;

export interface SocketInputOptions {
  readonly kind: SocketInputKind;
  /** crosvm's idx: the device's position among all --input devices. */
  readonly index: number;
  readonly width?: number;
  readonly height?: number;
  readonly name?: string;
}

const text = (s: string) => new TextEncoder().encode(s);
const range = (max: number): AbsInfo => ({ min: 0, max, fuzz: 0, flat: 0, res: 0 });

function config(
  name: string,
  serial: string,
  events: [number, number[]][],
  abs: [number, AbsInfo][] = [],
  properties: number[] = [],
): InputDeviceConfig {
  return {
    name: text(name),
    serial: text(serial),
    ids: { bustype: 0, vendor: 0, product: 0, version: 0 },
    properties: bitmapOf(properties),
    events: new Map(events.map(([type, codes]) => [type, bitmapOf(codes)])),
    abs: new Map(abs),
  };
}

/** The configuration a socket-fed device of `o.kind` shows the guest. */
export function defaultInputConfig(o: SocketInputOptions): InputDeviceConfig {
  const i = o.index;
  const width = o.width ?? DEFAULT_TOUCH_WIDTH;
  const height = o.height ?? DEFAULT_TOUCH_HEIGHT;
  switch (o.kind) {
    case "keyboard":
      return config(`Crosvm Virtio Keyboard ${i}`, `virtio-keyboard-${i}`, [
        [EV_KEY, Object.values(KEYBOARD_KEYS)],
        [EV_REP, [REP_DELAY, REP_PERIOD]],
        [EV_LED, [LED_CAPSL, LED_NUML, LED_SCROLLL]],
      ]);
    case "mouse":
      return config(`Crosvm Virtio Mouse ${i}`, `virtio-mouse-${i}`, [
        [EV_KEY, [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE]],
        [EV_REL, [REL_X, REL_Y, REL_WHEEL]],
      ]);
    case "rotary":
      return config(`Crosvm Virtio Rotary ${i}`, `virtio-rotary-${i}`, [[EV_REL, [REL_WHEEL]]]);
    case "switches":
      return config(`Crosvm Virtio Switches ${i}`, `virtio-switches-${i}`, [
        [EV_SW, Object.values(SWITCHES)],
      ]);
    case "single-touch":
      return config(
        o.name ?? `Crosvm Virtio Touchscreen ${i}`,
        `virtio-touchscreen-${i}`,
        [
          [EV_KEY, [BTN_TOUCH]],
          [EV_ABS, [ABS_X, ABS_Y]],
        ],
        [
          [ABS_X, range(width)],
          [ABS_Y, range(height)],
        ],
        [INPUT_PROP_DIRECT],
      );
    case "multi-touch":
      return config(
        o.name ?? `Crosvm Virtio Multitouch Touchscreen ${i}`,
        `virtio-touchscreen-${i}`,
        [
          [EV_KEY, [BTN_TOUCH]],
          [EV_ABS, [ABS_MT_SLOT, ABS_MT_TRACKING_ID, ABS_MT_POSITION_X, ABS_MT_POSITION_Y]],
        ],
        [
          [ABS_MT_SLOT, range(MT_SLOTS)],
          [ABS_MT_TRACKING_ID, range(MT_TRACKING_IDS)],
          [ABS_MT_POSITION_X, range(width)],
          [ABS_MT_POSITION_Y, range(height)],
        ],
        [INPUT_PROP_DIRECT],
      );
    case "trackpad":
      return config(
        o.name ?? `Crosvm Virtio Trackpad ${i}`,
        `virtio-trackpad-${i}`,
        [
          [EV_KEY, [BTN_TOOL_FINGER, BTN_TOUCH, BTN_LEFT, BTN_RIGHT]],
          [EV_ABS, [ABS_X, ABS_Y]],
        ],
        [
          [ABS_X, range(width)],
          [ABS_Y, range(height)],
        ],
      );
  }
}
