import { afterEach, describe, expect, test } from "bun:test";
import { eventfdRead } from "../../../ffi/libc.ts";
import { RESET_VALUE } from "../../../src/arch/x86_64/layout.ts";
import { reviveDevice } from "../../../src/devices/shared_device.ts";
import { ResetControl, writeResetControl } from "../../../src/devices/acpi/reset_control.ts";
import { closeEventFds, testEventFd } from "./helpers.ts";

afterEach(closeEventFds);

describe("ACPI reset register", () => {
  test("the FADT's reset value signals the reset eventfd", () => {
    const fd = testEventFd();

    writeResetControl(fd, Uint8Array.of(RESET_VALUE));

    expect(eventfdRead(fd)).toBe(1n);
  });

  test("a byte without RST_CPU, or a wider write, does not reset", () => {
    const fd = testEventFd();

    writeResetControl(fd, Uint8Array.of(0x02)); // SYS_RST alone
    writeResetControl(fd, Uint8Array.of(RESET_VALUE, 0));

    expect(eventfdRead(fd)).toBe(0n);
  });

  test("the one-port bus device resets on a write and reads 0", () => {
    const fd = testEventFd();
    const dev = reviveDevice(new ResetControl(fd).share());
    const d = Uint8Array.of(0xff);

    dev.write(0, Uint8Array.of(RESET_VALUE));
    dev.read(0, d);

    expect(eventfdRead(fd)).toBe(1n);
    expect(d[0]).toBe(0);
  });
});
