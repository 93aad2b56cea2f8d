// The virtio-input configuration space (virtio 1.2 5.8.4) as the Linux driver reads it: write select and subsel,
// read size, then the union; and crosvm's per-kind answers (devices/src/virtio/input/defaults.rs).
import { describe, expect, test } from "bun:test";
import { bitmapOf, hasBit, InputConfigSpace } from "../../../../src/devices/virtio/input/config.ts";
import {
  ABS_MT_POSITION_X,
  ABS_MT_POSITION_Y,
  ABS_MT_SLOT,
  ABS_X,
  BTN_TOUCH,
  EV_ABS,
  EV_KEY,
  EV_LED,
  EV_REL,
  EV_REP,
  EV_SW,
  INPUT_PROP_DIRECT,
  KEYBOARD_KEYS,
  REL_WHEEL,
  VIRTIO_INPUT_CFG_ABS_INFO,
  VIRTIO_INPUT_CFG_EV_BITS,
  VIRTIO_INPUT_CFG_ID_DEVIDS,
  VIRTIO_INPUT_CFG_ID_NAME,
  VIRTIO_INPUT_CFG_ID_SERIAL,
  VIRTIO_INPUT_CFG_PROP_BITS,
} from "../../../../src/devices/virtio/input/constants.ts";
import {
  defaultInputConfig,
  type SocketInputOptions,
} from "../../../../src/devices/virtio/input/defaults.ts";

/** What the driver sees for (select, subsel): size and the union's first `size` bytes. */
function query(o: SocketInputOptions, select: number, subsel = 0): Uint8Array {
  const space = new InputConfigSpace(defaultInputConfig(o));
  space.write(0, Uint8Array.of(select, subsel));
  const size = new Uint8Array(1);
  space.read(2, size);
  const data = new Uint8Array(size[0]!);
  space.read(8, data);
  return data;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const absinfo = (b: Uint8Array) => [...new Int32Array(b.slice().buffer)];

describe("names and serials", () => {
  test("a keyboard is 'Crosvm Virtio Keyboard <idx>' with serial virtio-keyboard-<idx>", () => {
    const o = { kind: "keyboard", index: 2 } as const;
    expect([text(query(o, VIRTIO_INPUT_CFG_ID_NAME)), text(query(o, VIRTIO_INPUT_CFG_ID_SERIAL))]).toEqual([
      "Crosvm Virtio Keyboard 2",
      "virtio-keyboard-2",
    ]);
  });

  test("a touch device given a name shows that name", () => {
    expect(text(query({ kind: "multi-touch", index: 0, name: "mytouch2" }, VIRTIO_INPUT_CFG_ID_NAME))).toBe(
      "mytouch2",
    );
  });

  test("ids are all zero, as crosvm's", () => {
    expect([...query({ kind: "mouse", index: 0 }, VIRTIO_INPUT_CFG_ID_DEVIDS)]).toEqual(Array(8).fill(0));
  });
});

describe("event bits per kind", () => {
  test("a keyboard reports its keys, key repeat and three LEDs", () => {
    const o = { kind: "keyboard", index: 0 } as const;
    const keys = query(o, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY);
    expect(Object.values(KEYBOARD_KEYS).every((k) => hasBit(keys, k))).toBe(true);
    expect([
      query(o, VIRTIO_INPUT_CFG_EV_BITS, EV_REP).length,
      [...query(o, VIRTIO_INPUT_CFG_EV_BITS, EV_LED)],
    ]).toEqual([1, [0b111]]);
  });

  test("a type the kind does not report has size 0", () => {
    expect(query({ kind: "keyboard", index: 0 }, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS).length).toBe(0);
  });

  test("a rotary reports only REL_WHEEL", () => {
    const o = { kind: "rotary", index: 0 } as const;
    expect([
      [...query(o, VIRTIO_INPUT_CFG_EV_BITS, EV_REL)],
      query(o, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY).length,
    ]).toEqual([[...bitmapOf([REL_WHEEL]).subarray(0, 2)], 0]);
  });

  test("switches report SW_LID to SW_MACHINE_COVER (17 bits)", () => {
    expect([...query({ kind: "switches", index: 0 }, VIRTIO_INPUT_CFG_EV_BITS, EV_SW)]).toEqual([
      0xff, 0xff, 1,
    ]);
  });

  test("a bitmap's size ends at its last non-zero byte", () => {
    expect(query({ kind: "single-touch", index: 0 }, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY).length).toBe(
      (BTN_TOUCH >> 3) + 1,
    );
  });
});

describe("touch surfaces", () => {
  test("multi-touch ABS ranges are the given width and height", () => {
    const o = { kind: "multi-touch", index: 0, width: 1920, height: 1080 } as const;
    expect([
      absinfo(query(o, VIRTIO_INPUT_CFG_ABS_INFO, ABS_MT_POSITION_X)),
      absinfo(query(o, VIRTIO_INPUT_CFG_ABS_INFO, ABS_MT_POSITION_Y)),
      absinfo(query(o, VIRTIO_INPUT_CFG_ABS_INFO, ABS_MT_SLOT)),
    ]).toEqual([
      [0, 1920, 0, 0, 0],
      [0, 1080, 0, 0, 0],
      [0, 10, 0, 0, 0],
    ]);
  });

  test("without width and height a touch screen is 1280x1024 and a direct input device", () => {
    const o = { kind: "single-touch", index: 0 } as const;
    expect([
      absinfo(query(o, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X))[1],
      [...query(o, VIRTIO_INPUT_CFG_PROP_BITS)],
    ]).toEqual([1280, [1 << INPUT_PROP_DIRECT]]);
  });

  test("a trackpad is not a direct input device (no property bits)", () => {
    expect(query({ kind: "trackpad", index: 0 }, VIRTIO_INPUT_CFG_PROP_BITS).length).toBe(0);
  });
});

describe("the guest's accesses", () => {
  test("only select and subsel are writable; size and the union ignore writes", () => {
    const space = new InputConfigSpace(defaultInputConfig({ kind: "keyboard", index: 0 }));
    space.write(0, Uint8Array.of(VIRTIO_INPUT_CFG_ID_NAME, 0, 99, 1, 1, 1, 1, 1, 0x41));
    const head = new Uint8Array(9);
    space.read(0, head);
    expect([...head]).toEqual([VIRTIO_INPUT_CFG_ID_NAME, 0, 24, 0, 0, 0, 0, 0, "C".charCodeAt(0)]);
  });

  test("an unknown select answers size 0 and a zero union", () => {
    const space = new InputConfigSpace(defaultInputConfig({ kind: "keyboard", index: 0 }));
    space.write(0, Uint8Array.of(VIRTIO_INPUT_CFG_ID_NAME));
    space.write(0, Uint8Array.of(0x7f));
    const all = new Uint8Array(136);
    space.read(0, all);
    expect([all[2], all.subarray(8).every((b) => b === 0)]).toEqual([0, true]);
  });

  test("reads beyond the structure are zero", () => {
    const space = new InputConfigSpace(defaultInputConfig({ kind: "keyboard", index: 0 }));
    space.write(0, Uint8Array.of(VIRTIO_INPUT_CFG_ID_NAME));
    const data = Uint8Array.of(7, 7, 7, 7);
    space.read(134, data);
    expect([...data]).toEqual([0, 0, 0, 0]);
  });
});
