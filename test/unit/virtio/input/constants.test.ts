// The input numbers of src/devices/virtio/input against their sources: the installed uapi headers (linux-libc-dev)
// for event codes and evdev ioctls, and the virtio 1.2 spec's values for the device.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import * as c from "../../../../src/devices/virtio/input/constants.ts";
import {
  EVIOCGABS,
  EVIOCGBIT,
  EVIOCGID,
  EVIOCGNAME,
  EVIOCGRAB,
  EVIOCGVERSION,
} from "../../../../src/devices/virtio/input/evdev.ts";

const HEADERS = ["/usr/include/linux/input-event-codes.h", "/usr/include/linux/input.h"];
const header = HEADERS.every(existsSync) ? HEADERS.map((h) => readFileSync(h, "utf8")).join("\n") : "";

/** The value of `#define NAME value` in the header. */
function defined(name: string): number | undefined {
  const m = new RegExp(`^#define\\s+${name}\\s+(0x[0-9a-fA-F]+|\\d+)`, "m").exec(header);
  return m ? Number(m[1]) : undefined;
}

describe.skipIf(header === "")("event codes match include/uapi/linux/input-event-codes.h and input.h", () => {
  test("event types, properties, buttons, axes, LEDs and repeat codes", () => {
    const names = [
      "EV_SYN",
      "EV_KEY",
      "EV_REL",
      "EV_ABS",
      "EV_MSC",
      "EV_SW",
      "EV_LED",
      "EV_SND",
      "EV_REP",
      "EV_FF",
      "EV_PWR",
      "EV_FF_STATUS",
      "EV_MAX",
      "SYN_REPORT",
      "INPUT_PROP_DIRECT",
      "INPUT_PROP_MAX",
      "BTN_LEFT",
      "BTN_RIGHT",
      "BTN_MIDDLE",
      "BTN_TOOL_FINGER",
      "BTN_TOUCH",
      "REL_X",
      "REL_Y",
      "REL_WHEEL",
      "ABS_X",
      "ABS_Y",
      "ABS_MT_SLOT",
      "ABS_MT_POSITION_X",
      "ABS_MT_POSITION_Y",
      "ABS_MT_TRACKING_ID",
      "REP_DELAY",
      "REP_PERIOD",
      "LED_NUML",
      "LED_CAPSL",
      "LED_SCROLLL",
    ];
    const ours = c as unknown as Record<string, number>;
    expect(Object.fromEntries(names.map((n) => [n, ours[n]]))).toEqual(
      Object.fromEntries(names.map((n) => [n, defined(n)])),
    );
  });

  test("each type's largest code is its *_MAX", () => {
    const max = (name: string) => defined(name);
    expect(c.CODE_MAX).toMatchObject({
      [c.EV_SYN]: max("SYN_MAX"),
      [c.EV_KEY]: max("KEY_MAX"),
      [c.EV_REL]: max("REL_MAX"),
      [c.EV_ABS]: max("ABS_MAX"),
      [c.EV_MSC]: max("MSC_MAX"),
      [c.EV_SW]: max("SW_MAX"),
      [c.EV_LED]: max("LED_MAX"),
      [c.EV_SND]: max("SND_MAX"),
      [c.EV_REP]: max("REP_MAX"),
      [c.EV_FF]: max("FF_MAX"),
      [c.EV_FF_STATUS]: max("FF_STATUS_MAX"),
    });
  });

  test("the default keyboard's keys and the default switches", () => {
    const table: Record<string, number | undefined> = { ...c.KEYBOARD_KEYS, ...c.SWITCHES };
    expect(table).toEqual(Object.fromEntries(Object.keys(table).map((n) => [n, defined(n)])));
  });
});

test("virtio-input is device 18 with select values 0x01-0x03 and 0x10-0x12 (virtio 1.2 5.8)", () => {
  expect([
    c.VIRTIO_ID_INPUT,
    c.VIRTIO_INPUT_CFG_ID_NAME,
    c.VIRTIO_INPUT_CFG_ID_SERIAL,
    c.VIRTIO_INPUT_CFG_ID_DEVIDS,
    c.VIRTIO_INPUT_CFG_PROP_BITS,
    c.VIRTIO_INPUT_CFG_EV_BITS,
    c.VIRTIO_INPUT_CFG_ABS_INFO,
    c.INPUT_CONFIG_SIZE,
  ]).toEqual([18, 1, 2, 3, 0x10, 0x11, 0x12, 136]);
});

test("evdev ioctl numbers are the _IOC encodings of include/uapi/linux/input.h", () => {
  // As printed by a C program: printf("%#x", EVIOCGRAB) and so on, on x86-64.
  expect([
    EVIOCGVERSION,
    EVIOCGID,
    EVIOCGNAME(128),
    EVIOCGBIT(0, 128),
    EVIOCGBIT(3, 128),
    EVIOCGABS(0x35),
    EVIOCGRAB,
  ]).toEqual([0x80044501, 0x80084502, 0x80804506, 0x80804520, 0x80804523, 0x80184575, 0x40044590]);
});
