import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AF_UNIX,
  bind,
  close,
  O_CLOEXEC,
  O_RDONLY,
  open,
  read,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  sockaddrUn,
  socket,
} from "../../../ffi/libc.ts";

const O_DIRECTORY = 0o200000; // include/uapi/asm-generic/fcntl.h
import { logger } from "../../../src/base/log.ts";
import { LINE_CAPACITY, SharedLineBuffer } from "../../../src/devices/serial/line_buffer.ts";
import { openSerialOutput, reviveSerialOutput } from "../../../src/devices/serial/output.ts";
import type { SerialParameters, SerialType } from "../../../src/devices/serial/parameters.ts";

const dir = mkdtempSync(join(tmpdir(), "serial-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fds: number[] = [];
afterEach(() => {
  while (fds.length) close(fds.pop()!);
});

const text = (s: string) => new TextEncoder().encode(s);
const params = (type: SerialType, path?: string): SerialParameters => ({
  type,
  hardware: "serial",
  num: 1,
  path,
  console: false,
  earlycon: false,
  stdin: false,
  debugconPort: 0x402,
});

function datagramServer(path: string): number {
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, "test server");
  fds.push(fd);
  bind(fd, sockaddrUn(path), path);
  return fd;
}

function receive(fd: number): string {
  const buf = new Uint8Array(4096);
  const n = read(fd, buf);
  return new TextDecoder().decode(buf.subarray(0, n));
}

describe("serial output back ends", () => {
  test("type=file appends to an existing file", () => {
    const path = join(dir, "append.log");
    writeFileSync(path, "old\n");
    const out = openSerialOutput(params("file", path), "serial COM1");

    out.write(text("new\n"));

    expect(readFileSync(path, "utf8")).toBe("old\nnew\n");
  });

  test("type=file creates a missing file", () => {
    const path = join(dir, "created.log");
    const out = openSerialOutput(params("file", path), "serial COM1");

    out.write(text("x"));

    expect(readFileSync(path, "utf8")).toBe("x");
  });

  test("type=file without a path is refused naming the port", () => {
    expect(() => openSerialOutput(params("file"), "serial COM2")).toThrow(
      "serial COM2: type=file requires path=",
    );
  });

  test("an output revived from share() writes to the same file", () => {
    const path = join(dir, "shared.log");
    const out = openSerialOutput(params("file", path), "serial COM1");

    reviveSerialOutput(out.share()).write(text("via copy"));

    expect(readFileSync(path, "utf8")).toBe("via copy");
  });

  test("type=unix sends one datagram per line without its line ending", () => {
    const path = join(dir, "dgram.sock");
    const server = datagramServer(path);
    const out = openSerialOutput(params("unix", path), "serial COM1");

    out.write(text("first\r\nsec"));
    out.write(text("ond\n"));

    expect(receive(server)).toBe("first");
    expect(receive(server)).toBe("second");
  });

  test("type=unix reaches a socket whose path is longer than sun_path", () => {
    const longDir = join(dir, "d".repeat(100));
    mkdirSync(longDir);
    const path = join(longDir, "long.sock");
    const server = datagramServer(throughProcFd(longDir, "long.sock"));
    const out = openSerialOutput(params("unix", path), "serial COM1");

    out.write(text("far\n"));

    expect(path.length).toBeGreaterThanOrEqual(108);
    expect(receive(server)).toBe("far");
  });

  test("type=unix on a path that is not a socket is refused at once", () => {
    const path = join(dir, "plain-file");
    writeFileSync(path, "");

    expect(() => openSerialOutput(params("unix", path), "serial COM1")).toThrow(/cannot connect to socket/);
  });

  test("type=syslog logs each line at info under the syslogger module", () => {
    const records: { type: string; args: unknown[] }[] = [];
    const syslogger = logger("syslogger");
    const saved = syslogger.options.reporters;
    syslogger.setReporters([{ log: (r) => records.push({ type: r.type, args: r.args }) }]);
    try {
      const out = openSerialOutput(params("syslog"), "serial COM1");
      out.write(text("boot ok\r\npartial"));
    } finally {
      syslogger.setReporters(saved);
    }

    expect(records).toEqual([{ type: "info", args: ["boot ok"] }]);
  });

  test("type=sink swallows output", () => {
    const out = openSerialOutput(params("sink"), "serial COM1");

    expect(() => out.write(text("gone"))).not.toThrow();
    expect(out.share()).toEqual({ kind: "sink" });
  });

  test("a failing output is logged, not thrown", () => {
    const out = reviveSerialOutput({ kind: "fd", fd: 987654, what: "a closed fd" });

    expect(() => out.write(text("x"))).not.toThrow();
  });
});

describe("shared line buffer", () => {
  test("a line that fills the buffer without a newline is emitted whole", () => {
    const lines: number[] = [];
    const buf = new SharedLineBuffer();

    buf.append(new Uint8Array(LINE_CAPACITY + 3).fill(0x61), (l) => lines.push(l.length));

    expect(lines).toEqual([LINE_CAPACITY]);
  });

  test("two buffers over the same memory continue one line", () => {
    const lines: string[] = [];
    const a = new SharedLineBuffer();
    const b = new SharedLineBuffer(a.buffer);

    a.append(text("he"), (l) => lines.push(new TextDecoder().decode(l)));
    b.append(text("llo\n"), (l) => lines.push(new TextDecoder().decode(l)));

    expect(lines).toEqual(["hello"]);
  });
});

/** A short name for `dir/name` through an open directory fd, to bind a socket whose full path is too long. */
function throughProcFd(dir: string, name: string): string {
  const dfd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  fds.push(dfd);
  return `/proc/self/fd/${dfd}/${name}`;
}
