// Numbers of virtio-input (virtio 1.2 section 5.8) and of the Linux input event codes it carries
// (include/uapi/linux/input-event-codes.h, input.h). test/unit/virtio/input/constants.test.ts checks every code
// here against the installed uapi header.

/** Device ID of an input device (virtio 1.2 section 5 "Device Types"). */
export const VIRTIO_ID_INPUT = 18;

/** Queues (5.8.2): eventq carries events to the driver, statusq carries LED and similar events back. */
export const INPUT_EVENTQ = 0;
export const INPUT_STATUSQ = 1;
/** crosvm's queue size for both (devices/src/virtio/input/mod.rs QUEUE_SIZE). */
export const INPUT_QUEUE_SIZE = 64;

/** virtio_input_config_select (5.8.4). */
export const VIRTIO_INPUT_CFG_UNSET = 0x00;
export const VIRTIO_INPUT_CFG_ID_NAME = 0x01;
export const VIRTIO_INPUT_CFG_ID_SERIAL = 0x02;
export const VIRTIO_INPUT_CFG_ID_DEVIDS = 0x03;
export const VIRTIO_INPUT_CFG_PROP_BITS = 0x10;
export const VIRTIO_INPUT_CFG_EV_BITS = 0x11;
export const VIRTIO_INPUT_CFG_ABS_INFO = 0x12;

/**
 * struct virtio_input_config (5.8.4): u8 select @0, u8 subsel @1, u8 size @2, u8 reserved[5] @3, then a 128-byte
 * union @8 (string, bitmap, virtio_input_absinfo, virtio_input_devids).
 */
export const INPUT_CONFIG_SELECT = 0;
export const INPUT_CONFIG_SUBSEL = 1;
export const INPUT_CONFIG_SIZE_OFFSET = 2;
export const INPUT_CONFIG_UNION = 8;
export const INPUT_CONFIG_UNION_SIZE = 128;
export const INPUT_CONFIG_SIZE = INPUT_CONFIG_UNION + INPUT_CONFIG_UNION_SIZE;
/** struct virtio_input_absinfo: le32 min, max, fuzz, flat, res. */
export const VIRTIO_INPUT_ABSINFO_SIZE = 20;
/** struct virtio_input_devids: le16 bustype, vendor, product, version. */
export const VIRTIO_INPUT_DEVIDS_SIZE = 8;

/** struct virtio_input_event (5.8.6): le16 type, le16 code, le32 value. */
export const VIRTIO_INPUT_EVENT_SIZE = 8;
/** struct input_event on x86-64 (input.h): struct timeval (2 x 8 bytes), u16 type, u16 code, s32 value. */
export const HOST_INPUT_EVENT_SIZE = 24;

/** Event types (input-event-codes.h). */
export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const EV_REL = 0x02;
export const EV_ABS = 0x03;
export const EV_MSC = 0x04;
export const EV_SW = 0x05;
export const EV_LED = 0x11;
export const EV_SND = 0x12;
export const EV_REP = 0x14;
export const EV_FF = 0x15;
export const EV_PWR = 0x16;
export const EV_FF_STATUS = 0x17;
export const EV_MAX = 0x1f;

export const SYN_REPORT = 0;

/** Largest code of each event type (input-event-codes.h *_MAX); a type absent here has no codes. */
export const CODE_MAX: Readonly<Record<number, number>> = {
  [EV_SYN]: 0x0f, // SYN_MAX
  [EV_KEY]: 0x2ff, // KEY_MAX
  [EV_REL]: 0x0f, // REL_MAX
  [EV_ABS]: 0x3f, // ABS_MAX
  [EV_MSC]: 0x07, // MSC_MAX
  [EV_SW]: 0x10, // SW_MAX
  [EV_LED]: 0x0f, // LED_MAX
  [EV_SND]: 0x07, // SND_MAX
  [EV_REP]: 0x01, // REP_MAX
  [EV_FF]: 0x7f, // FF_MAX
  [EV_PWR]: 0x00,
  [EV_FF_STATUS]: 0x01, // FF_STATUS_MAX
};

export const INPUT_PROP_DIRECT = 0x01;
export const INPUT_PROP_MAX = 0x1f;

export const BTN_LEFT = 0x110;
export const BTN_RIGHT = 0x111;
export const BTN_MIDDLE = 0x112;
export const BTN_TOOL_FINGER = 0x145;
export const BTN_TOUCH = 0x14a;

export const REL_X = 0x00;
export const REL_Y = 0x01;
export const REL_WHEEL = 0x08;

export const ABS_X = 0x00;
export const ABS_Y = 0x01;
export const ABS_MT_SLOT = 0x2f;
export const ABS_MT_POSITION_X = 0x35;
export const ABS_MT_POSITION_Y = 0x36;
export const ABS_MT_TRACKING_ID = 0x39;

export const REP_DELAY = 0x00;
export const REP_PERIOD = 0x01;

export const LED_NUML = 0x00;
export const LED_CAPSL = 0x01;
export const LED_SCROLLL = 0x02;

/** The keys of crosvm's default keyboard (an en-us layout; devices/src/virtio/input/defaults.rs). */
export const KEYBOARD_KEYS: Readonly<Record<string, number>> = {
  KEY_ESC: 1,
  KEY_1: 2,
  KEY_2: 3,
  KEY_3: 4,
  KEY_4: 5,
  KEY_5: 6,
  KEY_6: 7,
  KEY_7: 8,
  KEY_8: 9,
  KEY_9: 10,
  KEY_0: 11,
  KEY_MINUS: 12,
  KEY_EQUAL: 13,
  KEY_BACKSPACE: 14,
  KEY_TAB: 15,
  KEY_Q: 16,
  KEY_W: 17,
  KEY_E: 18,
  KEY_R: 19,
  KEY_T: 20,
  KEY_Y: 21,
  KEY_U: 22,
  KEY_I: 23,
  KEY_O: 24,
  KEY_P: 25,
  KEY_LEFTBRACE: 26,
  KEY_RIGHTBRACE: 27,
  KEY_ENTER: 28,
  KEY_LEFTCTRL: 29,
  KEY_A: 30,
  KEY_S: 31,
  KEY_D: 32,
  KEY_F: 33,
  KEY_G: 34,
  KEY_H: 35,
  KEY_J: 36,
  KEY_K: 37,
  KEY_L: 38,
  KEY_SEMICOLON: 39,
  KEY_APOSTROPHE: 40,
  KEY_GRAVE: 41,
  KEY_LEFTSHIFT: 42,
  KEY_BACKSLASH: 43,
  KEY_Z: 44,
  KEY_X: 45,
  KEY_C: 46,
  KEY_V: 47,
  KEY_B: 48,
  KEY_N: 49,
  KEY_M: 50,
  KEY_COMMA: 51,
  KEY_DOT: 52,
  KEY_SLASH: 53,
  KEY_RIGHTSHIFT: 54,
  KEY_KPASTERISK: 55,
  KEY_LEFTALT: 56,
  KEY_SPACE: 57,
  KEY_CAPSLOCK: 58,
  KEY_F1: 59,
  KEY_F2: 60,
  KEY_F3: 61,
  KEY_F4: 62,
  KEY_F5: 63,
  KEY_F6: 64,
  KEY_F7: 65,
  KEY_F8: 66,
  KEY_F9: 67,
  KEY_F10: 68,
  KEY_NUMLOCK: 69,
  KEY_SCROLLLOCK: 70,
  KEY_KP7: 71,
  KEY_KP8: 72,
  KEY_KP9: 73,
  KEY_KPMINUS: 74,
  KEY_KP4: 75,
  KEY_KP5: 76,
  KEY_KP6: 77,
  KEY_KPPLUS: 78,
  KEY_KP1: 79,
  KEY_KP2: 80,
  KEY_KP3: 81,
  KEY_KP0: 82,
  KEY_KPDOT: 83,
  KEY_F11: 87,
  KEY_F12: 88,
  KEY_KPENTER: 96,
  KEY_RIGHTCTRL: 97,
  KEY_KPSLASH: 98,
  KEY_SYSRQ: 99,
  KEY_RIGHTALT: 100,
  KEY_HOME: 102,
  KEY_UP: 103,
  KEY_PAGEUP: 104,
  KEY_LEFT: 105,
  KEY_RIGHT: 106,
  KEY_END: 107,
  KEY_DOWN: 108,
  KEY_PAGEDOWN: 109,
  KEY_INSERT: 110,
  KEY_DELETE: 111,
  KEY_MUTE: 113,
  KEY_VOLUMEDOWN: 114,
  KEY_VOLUMEUP: 115,
  KEY_POWER: 116,
  KEY_PAUSE: 119,
  KEY_MENU: 139,
  KEY_BACK: 158,
  KEY_HOMEPAGE: 172,
  KEY_PRINT: 210,
};

/** The switches of crosvm's default switches device (SW_LID .. SW_MACHINE_COVER, defaults.rs). */
export const SWITCHES: Readonly<Record<string, number>> = {
  SW_LID: 0x00,
  SW_TABLET_MODE: 0x01,
  SW_HEADPHONE_INSERT: 0x02,
  SW_RFKILL_ALL: 0x03,
  SW_MICROPHONE_INSERT: 0x04,
  SW_DOCK: 0x05,
  SW_LINEOUT_INSERT: 0x06,
  SW_JACK_PHYSICAL_INSERT: 0x07,
  SW_VIDEOOUT_INSERT: 0x08,
  SW_CAMERA_LENS_COVER: 0x09,
  SW_KEYPAD_SLIDE: 0x0a,
  SW_FRONT_PROXIMITY: 0x0b,
  SW_ROTATE_LOCK: 0x0c,
  SW_LINEIN_INSERT: 0x0d,
  SW_MUTE_DEVICE: 0x0e,
  SW_PEN_INSERTED: 0x0f,
  SW_MACHINE_COVER: 0x10,
};
