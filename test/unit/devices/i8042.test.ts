import { afterEach, describe, expect, test } from "bun:test";
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd, eventfdRead } from "../../../ffi/libc.ts";
import { I8042, I8042_BASE } from "../../../src/devices/i8042.ts";

const fds: number[] = [];
function resetEventFd(): number {
  const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  fds.push(fd);
  return fd;
}
afterEach(() => {
  while (fds.length) close(fds.pop()!);
});

const port = (p: number) => p - I8042_BASE;

describe("i8042", () => {
  test("command 0xFE on port 0x64 signals the reset eventfd", () => {
    const fd = resetEventFd();
    const dev = new I8042(fd);

    dev.write(port(0x64), Uint8Array.of(0xfe));

    expect(eventfdRead(fd)).toBe(1n);
  });

  test("other commands and other ports do not reset", () => {
    const fd = resetEventFd();
    const dev = new I8042(fd);

    dev.write(port(0x64), Uint8Array.of(0xd1));
    dev.write(port(0x61), Uint8Array.of(0xfe));
    dev.write(port(0x64), Uint8Array.of(0xfe, 0));

    expect(eventfdRead(fd)).toBe(0n);
  });

  test("port 0x61 reads 0x20 and the status port 0x64 reads 0, as crosvm's", () => {
    const dev = new I8042(resetEventFd());
    const b = new Uint8Array(1);
    const s = new Uint8Array([0xff]);

    dev.read(port(0x61), b);
    dev.read(port(0x64), s);

    expect(b[0]).toBe(0x20);
    expect(s[0]).toBe(0);
  });

  test("a device mapped at 0x62 (PIT owns the speaker port) still resets on 0x64", () => {
    const fd = resetEventFd();
    const dev = new I8042(fd, 0x62);

    dev.write(0x64 - 0x62, Uint8Array.of(0xfe));

    expect(eventfdRead(fd)).toBe(1n);
  });

  test("a reset with a closed eventfd is logged, not thrown into the vCPU loop", () => {
    const fd = resetEventFd();
    close(fds.pop()!);
    const dev = new I8042(fd);

    expect(() => dev.write(port(0x64), Uint8Array.of(0xfe))).not.toThrow();
  });
});
