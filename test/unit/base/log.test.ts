import { describe, expect, test } from "bun:test";
import { formatLogRecord, levelFor, parseLogLevelSpec } from "../../../src/base/log.ts";

describe("--log-level spec", () => {
  test("a bare level sets the default", () => {
    const spec = parseLogLevelSpec("debug");

    expect(levelFor(spec, "devices::serial")).toBe("debug");
  });

  test("a module level applies to that module and its children only", () => {
    const spec = parseLogLevelSpec("devices::usb::xhci=trace,warn");

    expect(levelFor(spec, "devices::usb::xhci")).toBe("trace");
    expect(levelFor(spec, "devices::usb::xhci::ring")).toBe("trace");
    expect(levelFor(spec, "devices::usb")).toBe("warn");
    expect(levelFor(spec, "devices::usb::xhcix")).toBe("warn");
  });

  test("the most specific module prefix wins", () => {
    const spec = parseLogLevelSpec("devices=error,devices::serial=debug");

    expect(levelFor(spec, "devices::serial")).toBe("debug");
    expect(levelFor(spec, "devices::i8042")).toBe("error");
  });

  test("the default level is info when none is given", () => {
    const spec = parseLogLevelSpec("devices=debug");

    expect(levelFor(spec, "vmm")).toBe("info");
  });

  test("an unknown level is an error naming the option and the choices", () => {
    expect(() => parseLogLevelSpec("verbose")).toThrow(
      '--log-level: "verbose" is not a log level (expected one of off, error, warn, info, debug, trace)',
    );
  });

  test("an empty module name is an error", () => {
    expect(() => parseLogLevelSpec("=debug")).toThrow("empty module name");
  });
});

describe("log records", () => {
  test("a record is one line: [module] LEVEL message", () => {
    const line = formatLogRecord({ tag: "devices::serial", type: "warn", args: ["input closed", 3] });

    expect(line).toBe("[devices::serial] WARN input closed 3\n");
  });

  test("an error argument shows its stack", () => {
    const error = new Error("boom");

    expect(formatLogRecord({ tag: "vmm", type: "error", args: [error] })).toContain("Error: boom\n    at ");
  });
});
