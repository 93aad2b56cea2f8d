// virtio-input end to end (issue 16 item 1): Debian's virtio_input and evdev drivers on our devices. One guest
// boots with three --input devices: a keyboard fed from an event source socket, a multi-touch screen whose source
// closes at once, and a host event device made with /dev/uinput where the VMM runs (the outer rig VM) and passed
// with --input evdev. The host side is test/e2e/input_host_helper.ts, run there by the VMM executable itself.
// Each test checks one behaviour from inside the guest (/dev/input/eventN, sysfs, evdev-absinfo from
// scripts/guest/tools) or on the VMM's host. Run alone: bun test test/e2e/input.test.ts
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { VmmHost } from "./block_support.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { endTestFile, TestVm, vmmExecutablePath } from "./harness/test_vm.ts";

const EXEC = { timeoutMs: 90_000 };
const HELPER = "input_host_helper.ts";
const UINPUT_NAME = "crosvm-e2e-uinput";
const UINPUT_LINK = "uinput.evdev";
const TOUCH_NAME = "e2e-touch";
const KEYBOARD_NAME = "Crosvm Virtio Keyboard 0";

const EV_SYN = 0;
const EV_KEY = 1;
const EV_LED = 0x11;
const KEY_A = 30;
const KEY_B = 48;
const KEY_C = 46;

setDefaultTimeout(180_000);
afterAll(endTestFile, 60_000);

/** Guest shell: the /dev/input node of the input device named $1. */
const EVNODE =
  'evnode() { for d in /sys/class/input/event*; do [ "$(cat $d/device/name)" = "$1" ] && echo /dev/input/${d##*/}; done; }';

/** struct input_event records (24 bytes on x86-64) as `hexdump -e '24/1 "%02x" "\n"'` prints them. */
function parseEvents(hex: string): [number, number, number][] {
  return hex
    .trim()
    .split("\n")
    .filter((line) => line.length === 48)
    .map((line) => {
      const b = Buffer.from(line, "hex");
      return [b.readUInt16LE(16), b.readUInt16LE(18), b.readInt32LE(20)] as [number, number, number];
    });
}

/**
 * Drops what the guest kernel adds on its own: autorepeat events (EV_KEY value 2) and LED state (EV_LED, set by
 * its keyboard handler), each with the SYN_REPORT it comes with.
 */
function withoutRepeats(events: [number, number, number][]): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < events.length; i++) {
    const [type, , value] = events[i]!;
    if ((type === EV_KEY && value === 2) || type === EV_LED) {
      if (events[i + 1]?.[0] === EV_SYN) i++;
      continue;
    }
    out.push(events[i]!);
  }
  return out;
}

describe("a guest with a socket keyboard, a multi-touch screen and a grabbed host event device", () => {
  let vm: TestVm;
  let host: VmmHost;
  let uinputNode = "";

  /** Starts the helper where the VMM runs and waits for its sockets and the uinput device. */
  const prepare = async () => {
    host = await VmmHost.open("crosvm");
    copyFileSync(join(import.meta.dir, HELPER), host.hostPath(HELPER));
    await host.importImage(HELPER);
    const dir = host.workDir;
    // A helper left by an earlier attempt goes first, with its uinput device (the name must stay unique).
    await host.run(
      `{ [ -f ${dir}/helper.pid ] && kill $(cat ${dir}/helper.pid); sleep 0.5; } 2> /dev/null; ` +
        `rm -f ${dir}/keys.sock ${dir}/touch.sock* ${dir}/go-* ${dir}/uinput.path ${dir}/helper.pid && ` +
        `{ BUN_BE_BUN=1 ${vmmExecutablePath()} ${host.vmmPath(HELPER)} all ${dir} ${UINPUT_NAME} ` +
        `> ${dir}/helper.log 2>&1 < /dev/null & echo $! > ${dir}/helper.pid; }`,
    );
    // Bun starts slowly under TCG; on failure the helper's log and the uinput state say why.
    await host.run(
      `for i in $(seq 1800); do [ -S ${dir}/keys.sock ] && [ -S ${dir}/touch.sock ] && [ -s ${dir}/uinput.path ] && exit 0; ` +
        `sleep 0.1; done; { cat ${dir}/helper.log; ls -la ${dir} /dev/uinput /dev/input; grep uinput /proc/modules; ` +
        `ps; } >&2; exit 1`,
      240_000,
    );
    uinputNode = (await host.run(`cat ${dir}/uinput.path`)).trim();
    // The VMM's argument names a link, so a retry's new uinput device (maybe another eventN) needs no new args.
    await host.run(`ln -sf ${uinputNode} ${dir}/${UINPUT_LINK}`);
  };

  beforeAll(async () => {
    await prepare();
    vm = await TestVm.boot({
      cmdline: "quiet",
      beforeAttempt: async (attempt) => {
        // A retry needs a new helper too: the failed VMM took each of its sockets' one connection.
        if (attempt > 1 || (await VmmHost.open("crosvm")).hostDir !== host.hostDir) await prepare();
      },
      vmmArgs: [
        ...["--input", `keyboard[path=${host.vmmPath("keys.sock")}]`],
        ...[
          "--input",
          `multi-touch[path=${host.vmmPath("touch.sock")},width=1920,height=1080,name=${TOUCH_NAME}]`,
        ],
        ...["--input", `evdev[path=${host.vmmPath(UINPUT_LINK)}]`],
      ],
    });
  }, BOOT_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await vm?.stop();
    await host?.run(`kill $(cat ${host.workDir}/helper.pid)`).catch(() => {});
    await host?.clean().catch(() => {});
  }, 60_000);

  /** Reads the events of input device `name` in the guest while `act` runs on the host, until `count` arrived. */
  async function guestEvents(name: string, count: number, act: () => Promise<unknown>) {
    await vm.exec(
      `${EVNODE}; node=$(evnode "${name}"); [ -n "$node" ] || exit 1; ` +
        `{ cat $node > /tmp/events.bin 2>/dev/null < /dev/null & echo $! > /tmp/events.pid; }`,
      EXEC,
    );
    await act();
    const { stdout } = await vm.exec(
      `for i in $(seq 600); do [ $(wc -c < /tmp/events.bin) -ge ${24 * count} ] && break; sleep 0.1; done; ` +
        `sleep 0.5; kill $(cat /tmp/events.pid); hexdump -v -e '24/1 "%02x" "\\n"' /tmp/events.bin`,
      EXEC,
    );
    return withoutRepeats(parseEvents(stdout));
  }

  test("the guest lists the three devices under their names", async () => {
    const { stdout } = await vm.exec("cat /sys/class/input/event*/device/name", EXEC);

    expect(stdout.split("\n")).toEqual(expect.arrayContaining([KEYBOARD_NAME, TOUCH_NAME, UINPUT_NAME]));
  });

  test("key presses sent on the keyboard's socket reach /dev/input/eventN in order, the malformed record dropped", async () => {
    const events = await guestEvents(KEYBOARD_NAME, 8, () => host.run(`touch ${host.workDir}/go-keys`));

    expect(events).toEqual([
      [EV_KEY, KEY_A, 1],
      [EV_SYN, 0, 0],
      [EV_KEY, KEY_A, 0],
      [EV_SYN, 0, 0],
      [EV_KEY, KEY_B, 1],
      [EV_SYN, 0, 0],
      [EV_KEY, KEY_B, 0],
      [EV_SYN, 0, 0],
    ]);
  });

  test("the multi-touch screen's ABS_MT_POSITION_X/Y ranges are the given width and height", async () => {
    const { stdout } = await vm.exec(`${EVNODE}; evdev-absinfo $(evnode "${TOUCH_NAME}") 53 54`, EXEC);

    // AXIS VALUE MIN MAX FUZZ FLAT RESOLUTION
    expect(stdout.trim().split("\n")).toEqual(["53 0 0 1920 0 0 0", "54 0 0 1080 0 0 0"]);
  });

  test("the multi-touch screen is a direct input device (INPUT_PROP_DIRECT)", async () => {
    const { stdout } = await vm.exec(
      `${EVNODE}; n=$(evnode "${TOUCH_NAME}"); cat /sys/class/input/\${n##*/}/device/properties`,
      EXEC,
    );

    expect(stdout.trim()).toBe("2");
  });

  test("a closed event source socket leaves its device in the guest, idle", async () => {
    await host.run(
      `for i in $(seq 300); do [ -e ${host.workDir}/touch.sock.closed ] && exit 0; sleep 0.1; done; exit 1`,
    );

    const { stdout } = await vm.exec(`${EVNODE}; evnode "${TOUCH_NAME}"`, EXEC);

    expect(stdout.trim()).toMatch(/^\/dev\/input\/event\d+$/);
  });

  test("the host event device is grabbed while the VM runs", async () => {
    const out = await host.run(
      `BUN_BE_BUN=1 ${vmmExecutablePath()} ${host.vmmPath(HELPER)} try-grab ${uinputNode}`,
    );

    expect(out.trim()).toBe("busy");
  });

  test("the guest sees the host event device's ids and its ABS_X range", async () => {
    const { stdout } = await vm.exec(
      `${EVNODE}; n=$(evnode "${UINPUT_NAME}"); d=/sys/class/input/\${n##*/}/device/id; ` +
        `cat $d/bustype $d/vendor $d/product; evdev-absinfo $n 0`,
      EXEC,
    );

    expect(stdout.trim().split("\n")).toEqual(["0006", "1234", "5678", "0 0 0 4095 0 0 7"]);
  });

  test("events of the host event device are mirrored to the guest", async () => {
    const events = await guestEvents(UINPUT_NAME, 4, () => host.run(`touch ${host.workDir}/go-uinput`));

    expect(events).toEqual([
      [EV_KEY, KEY_C, 1],
      [EV_SYN, 0, 0],
      [EV_KEY, KEY_C, 0],
      [EV_SYN, 0, 0],
    ]);
  });
});
