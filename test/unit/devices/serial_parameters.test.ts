import { describe, expect, test } from "bun:test";
import {
  serialPortProblem,
  serialSetProblem,
  withDefaultSerialParameters,
} from "../../../src/devices/serial/parameters.ts";
import { serialPort } from "../fixtures/serial.ts";

const serial = serialPort;

describe("the rules of one port (crosvm validate_serial_parameters)", () => {
  test("a valid port has no problem", () => {
    expect(
      serialPortProblem(serial({ type: "stdout", num: 4, console: true, earlycon: true })),
    ).toBeUndefined();
  });

  test("a COM port number above 4 is refused at num", () => {
    expect(serialPortProblem(serial({ num: 5 }))).toEqual({
      key: "num",
      expected: "1 to 4 for hardware=serial (COM1-COM4)",
    });
  });

  test("a virtio console may have a number above 4", () => {
    expect(serialPortProblem(serial({ hardware: "virtio-console", num: 5 }))).toBeUndefined();
  });

  test("stdin together with an input file is refused at input", () => {
    expect(serialPortProblem(serial({ stdin: true, input: "/in" }))?.key).toBe("input");
  });

  test("type=file and type=unix need a path", () => {
    expect([
      serialPortProblem(serial({ type: "file" })),
      serialPortProblem(serial({ type: "unix" })),
    ]).toEqual([
      { key: "path", expected: "a path for type=file" },
      { key: "path", expected: "a path for type=unix" },
    ]);
  });

  test("earlycon is refused on anything but a COM port", () => {
    expect(serialPortProblem(serial({ hardware: "virtio-console", earlycon: true }))?.key).toBe("earlycon");
  });
});

describe("the rules across ports (crosvm cmdline.rs)", () => {
  test("distinct ports with one console, one stdin and one earlycon are valid", () => {
    const ports = [serial({ console: true, stdin: true }), serial({ num: 2, earlycon: true })];
    expect(serialSetProblem(ports)).toBeUndefined();
  });

  test("the same hardware and num twice is reported at the second port", () => {
    expect(serialSetProblem([serial({ num: 2 }), serial({ num: 2 })])).toEqual({
      index: 1,
      message: "serial device 2 is given more than once (num must be unique per hardware)",
    });
  });

  test("a second port reading stdin is refused naming the first", () => {
    expect(serialSetProblem([serial({ stdin: true }), serial({ num: 2, stdin: true })])).toEqual({
      index: 1,
      message: "serial device 1 already connected to standard input",
    });
  });

  test("a second console is refused", () => {
    expect(serialSetProblem([serial({ console: true }), serial({ num: 3, console: true })])?.message).toBe(
      "serial device 1 is already the console",
    );
  });

  test("a second earlycon is refused", () => {
    expect(serialSetProblem([serial({ earlycon: true }), serial({ num: 3, earlycon: true })])?.message).toBe(
      "serial device 1 already set as earlycon",
    );
  });
});

describe("crosvm's default ports (set_default_serial_parameters)", () => {
  test("no port given: COM1 is a stdout console on stdin and COM2-COM4 are sinks", () => {
    expect(withDefaultSerialParameters([]).map((p) => [p.num, p.type, p.console, p.stdin])).toEqual([
      [1, "stdout", true, true],
      [2, "sink", false, false],
      [3, "sink", false, false],
      [4, "sink", false, false],
    ]);
  });

  test("ports come out ordered serial, virtio-console, debugcon, then by number", () => {
    const ports = withDefaultSerialParameters([
      serial({ hardware: "debugcon" }),
      serial({ hardware: "virtio-console", num: 1, console: true }),
      serial({ num: 3, type: "stdout" }),
    ]);
    expect(ports.map((p) => `${p.hardware}${p.num}`)).toEqual([
      "serial1",
      "serial2",
      "serial3",
      "serial4",
      "virtio-console1",
      "debugcon1",
    ]);
  });

  test("a list that already has the defaults comes back the same", () => {
    const once = withDefaultSerialParameters([serial({ num: 2, console: true })]);
    expect(withDefaultSerialParameters(once)).toEqual(once);
  });
});
