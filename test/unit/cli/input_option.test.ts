// --input as crosvm takes it: TYPE[key=value,...] on the command line (the book's "Input device types") and
// {"TYPE": {...}} in a --cfg file, each type with its own keys; bad input is one line naming the type and key.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeInput } from "../../../src/cli/input_option.ts";
import { runConfig as config } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "crosvm-input-cfg-"));

function cfgFile(json: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

describe("the book's examples", () => {
  test.each([
    ["evdev[path=/dev/input/event0]", { type: "evdev", path: "/dev/input/event0" }],
    ["keyboard[path=/tmp/keyboard-socket]", { type: "keyboard", path: "/tmp/keyboard-socket" }],
    ["mouse[path=/tmp/mouse-socket]", { type: "mouse", path: "/tmp/mouse-socket" }],
    [
      "multi-touch[path=/tmp/multi-touch-socket,width=1920,height=1080,name=mytouch2]",
      { type: "multi-touch", path: "/tmp/multi-touch-socket", width: 1920, height: 1080, name: "mytouch2" },
    ],
    ["rotary[path=/tmp/rotary-socket]", { type: "rotary", path: "/tmp/rotary-socket" }],
    [
      "single-touch[path=/tmp/single-touch-socket,width=1920,height=1080,name=mytouch1]",
      { type: "single-touch", path: "/tmp/single-touch-socket", width: 1920, height: 1080, name: "mytouch1" },
    ],
    ["switches[path=/tmp/switches-socket]", { type: "switches", path: "/tmp/switches-socket" }],
    [
      "trackpad[path=/tmp/trackpad-socket,width=1920,height=1080,name=mytouch1]",
      { type: "trackpad", path: "/tmp/trackpad-socket", width: 1920, height: 1080, name: "mytouch1" },
    ],
  ])("--input %s", (text, expected) => {
    expect(config("--input", text, "/k").inputs).toEqual([expected as never]);
  });
});

test("several --input devices keep their order, after those of --cfg files", () => {
  const file = cfgFile({ input: [{ switches: { path: "/s" } }] });
  const inputs = config(
    "--input",
    "keyboard[path=/k1]",
    "--cfg",
    file,
    "--input",
    "mouse[path=/m]",
    "/k",
  ).inputs;
  expect(inputs?.map((i) => i.type)).toEqual(["switches", "keyboard", "mouse"]);
});

test("a touch device without width and height leaves them to the device's defaults", () => {
  expect(config("--input", "single-touch[path=/t]", "/k").inputs).toEqual([
    { type: "single-touch", path: "/t" },
  ]);
});

test("the --cfg form {TYPE: {keys}} gives the same devices as the command line", () => {
  const file = cfgFile({ input: [{ "multi-touch": { path: "/t", width: 800, height: 600 } }] });
  expect(config("--cfg", file, "/k")).toEqual(
    config("--input", "multi-touch[path=/t,width=800,height=600]", "/k"),
  );
});

describe("bad values are one line", () => {
  test.each([
    ["joystick[path=/j]", '--input: unknown input device type "joystick" (expected one of: evdev, keyboard,'],
    ["keyboard", '--input keyboard: key "path" is required'],
    ["keyboard[path=/k,width=10]", '--input keyboard: unknown key "width" (expected one of: path)'],
    ["trackpad[path=/t,height=-1]", '--input trackpad: key "height" expects an integer from 1 to 2147483647'],
    [
      `multi-touch[path=/t,name=${"n".repeat(129)}]`,
      '--input multi-touch: key "name" expects a name of 1 to 128 bytes',
    ],
    ["keyboard[path=/k", "--input: invalid value"],
  ])("%s", (text, message) => {
    expect(() => decodeInput(text, "--input")).toThrow(message);
  });

  test.each([
    [{ joystick: { path: "/j" } }, "input[0]: expected one key naming the input device type"],
    [
      { keyboard: { path: "/k" }, mouse: { path: "/m" } },
      "input[0]: expected one key naming the input device type",
    ],
    [
      { "multi-touch": { path: "/t", width: "wide" } },
      "input[0].multi-touch.width: expected an integer from 1",
    ],
    [{ mouse: { path: "/m", speed: 2 } }, "input[0].mouse.speed: expected a key of mouse (path)"],
    [{ rotary: {} }, "input[0].rotary.path: expected a value (the key is required)"],
  ])("in a file: %j", (value, message) => {
    const file = cfgFile({ input: [value] });
    expect(() => config("--cfg", file, "/k")).toThrow(`${file}: ${message}`);
  });
});
