// Where a serial port's (or debugcon's) output goes, per `--serial type=` (crosvm devices/src/serial_device.rs):
//   stdout  the VMM's stdout
//   file    `path`, opened for append and created if missing
//   sink    nowhere
//   syslog  crosvm's logging facility at level info, one record per line (crosvm's Syslogger, target "syslogger");
//           here that is the project's logger under the module name "syslogger"
//   unix    an unbound datagram socket connected to `path`, one datagram per line (crosvm's UnixSocket type)
// The main thread opens the back end once; `share()` describes it (fd numbers and a shared line buffer) so that every
// vCPU thread writes straight to the same fd. Callers hold the owning device's mutex around write().
import { statSync } from "node:fs";
import {
  AF_UNIX,
  close,
  connect,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_RDONLY,
  O_WRONLY,
  open,
  send,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  sockaddrUn,
  socket,
  SysError,
  UNIX_PATH_MAX,
  writeAll,
} from "../../../ffi/libc.ts";
import { logger } from "../../base/log.ts";
import { SharedLineBuffer } from "./line_buffer.ts";
import type { SerialParameters } from "./parameters.ts";

const log = logger("devices::serial");

export type SerialOutputShare =
  | { readonly kind: "sink" }
  | { readonly kind: "fd"; readonly fd: number; readonly what: string }
  | { readonly kind: "syslog"; readonly lines: SharedArrayBuffer }
  | {
      readonly kind: "datagram";
      readonly fd: number;
      readonly what: string;
      readonly lines: SharedArrayBuffer;
    };

export interface SerialOutput {
  /** Delivers guest output; failures are logged, never thrown (the guest must not be able to stop a vCPU). */
  write(bytes: Uint8Array): void;
  share(): SerialOutputShare;
}

export class SerialOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SerialOutputError";
  }
}

/** Opens the back end `params.type` names; `label` (e.g. "serial COM1") prefixes errors. Main thread only. */
export function openSerialOutput(params: SerialParameters, label: string): SerialOutput {
  switch (params.type) {
    case "sink":
      return reviveSerialOutput({ kind: "sink" });
    case "stdout":
      return reviveSerialOutput({ kind: "fd", fd: 1, what: "stdout" });
    case "file": {
      const path = requirePath(params, label);
      let fd: number;
      try {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o666);
      } catch (e) {
        throw new SerialOutputError(`${label}: cannot create output file "${path}": ${errorText(e)}`);
      }
      return reviveSerialOutput({ kind: "fd", fd, what: path });
    }
    case "syslog":
      return reviveSerialOutput({ kind: "syslog", lines: new SharedLineBuffer().buffer });
    case "unix": {
      const path = requirePath(params, label);
      const fd = connectDatagram(path, label);
      return reviveSerialOutput({ kind: "datagram", fd, what: path, lines: new SharedLineBuffer().buffer });
    }
  }
}

/** Rebuilds an output from its description (any thread). */
export function reviveSerialOutput(share: SerialOutputShare): SerialOutput {
  switch (share.kind) {
    case "sink":
      return { write() {}, share: () => share };
    case "fd":
      return new FdOutput(share);
    case "syslog":
      return new SyslogOutput(share);
    case "datagram":
      return new DatagramOutput(share);
  }
}

/** Checks an untrusted description (from another thread's message) before reviving it. */
export function isSerialOutputShare(v: unknown): v is SerialOutputShare {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  const fdOk = Number.isInteger(o.fd) && (o.fd as number) >= 0 && typeof o.what === "string";
  const linesOk = o.lines instanceof SharedArrayBuffer;
  switch (o.kind) {
    case "sink":
      return true;
    case "fd":
      return fdOk;
    case "syslog":
      return linesOk;
    case "datagram":
      return fdOk && linesOk;
    default:
      return false;
  }
}

function requirePath(params: SerialParameters, label: string): string {
  if (!params.path) throw new SerialOutputError(`${label}: type=${params.type} requires path=`);
  return params.path;
}

function errorText(e: unknown): string {
  return e instanceof SysError ? e.code : String(e);
}

/** Logs the first failure of an output at error level and later ones at debug, so a dead sink cannot flood. */
class FailureLog {
  #failures = 0;
  report(what: string, e: unknown): void {
    if (this.#failures++ === 0) log.error(`serial output to ${what} failed: ${errorText(e)}`);
    else log.debug(`serial output to ${what} failed again (${this.#failures} times): ${errorText(e)}`);
  }
}

class FdOutput implements SerialOutput {
  readonly #failures = new FailureLog();
  constructor(readonly desc: Extract<SerialOutputShare, { kind: "fd" }>) {}
  write(bytes: Uint8Array): void {
    try {
      writeAll(this.desc.fd, bytes, this.desc.what);
    } catch (e) {
      this.#failures.report(this.desc.what, e);
    }
  }
  share(): SerialOutputShare {
    return this.desc;
  }
}

const syslogger = logger("syslogger");
const utf8 = new TextDecoder("utf-8", { fatal: false });

class SyslogOutput implements SerialOutput {
  readonly #lines: SharedLineBuffer;
  constructor(readonly desc: Extract<SerialOutputShare, { kind: "syslog" }>) {
    this.#lines = new SharedLineBuffer(desc.lines);
  }
  write(bytes: Uint8Array): void {
    this.#lines.append(bytes, (line) => syslogger.info(utf8.decode(line)));
  }
  share(): SerialOutputShare {
    return this.desc;
  }
}

// crosvm's WriteSocket tries each datagram twice and drops the line if both fail (logging at info).
const SEND_TRIES = 2;

class DatagramOutput implements SerialOutput {
  readonly #lines: SharedLineBuffer;
  readonly #failures = new FailureLog();
  constructor(readonly desc: Extract<SerialOutputShare, { kind: "datagram" }>) {
    this.#lines = new SharedLineBuffer(desc.lines);
  }
  write(bytes: Uint8Array): void {
    this.#lines.append(bytes, (line) => {
      for (let i = 0; i < SEND_TRIES; i++) {
        try {
          if (send(this.desc.fd, line, 0, this.desc.what) !== null) return;
          throw new Error("EAGAIN"); // the socket is blocking; a full receiver makes send wait, not fail
        } catch (e) {
          if (i === SEND_TRIES - 1) this.#failures.report(this.desc.what, e);
        }
      }
    });
  }
  share(): SerialOutputShare {
    return this.desc;
  }
}

function existsAsNonSocket(path: string): boolean {
  try {
    return !statSync(path).isSocket();
  } catch {
    return false;
  }
}

const O_DIRECTORY = 0o200000; // include/uapi/asm-generic/fcntl.h
const CONNECT_RETRY_MS = 10;
const CONNECT_WARN_AFTER_MS = 1000;

/**
 * An unbound datagram socket connected to `path`. As crosvm does, a path too long for sun_path is reached through
 * /proc/self/fd/<dir>/<name>, and a socket that does not exist yet (ENOENT) or refuses (ECONNREFUSED) is retried
 * every 10 ms until it appears (crosvm waits for its log forwarder this way); other errors fail at once.
 */
function connectDatagram(path: string, label: string): number {
  let dirFd = -1;
  let target = path;
  try {
    if (Buffer.byteLength(path) >= UNIX_PATH_MAX) {
      const slash = path.lastIndexOf("/");
      const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
      const name = path.slice(slash + 1);
      if (name === "") throw new SerialOutputError(`${label}: socket path "${path}" names no file`);
      try {
        dirFd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      } catch (e) {
        throw new SerialOutputError(
          `${label}: cannot open directory "${dir}" of socket "${path}": ${errorText(e)}`,
        );
      }
      target = `/proc/self/fd/${dirFd}/${name}`;
    }
    let addr: Uint8Array;
    try {
      addr = sockaddrUn(target);
    } catch {
      throw new SerialOutputError(
        `${label}: socket path "${path}" is too long (at most ${UNIX_PATH_MAX - 1} bytes)`,
      );
    }
    const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, `${label} socket`);
    const started = Date.now();
    let warned = false;
    for (;;) {
      try {
        connect(fd, addr, path);
        return fd;
      } catch (e) {
        const code = e instanceof SysError ? e.code : "";
        // ECONNREFUSED also comes from a path that is not a socket at all: fail then instead of waiting forever.
        if ((code !== "ENOENT" && code !== "ECONNREFUSED") || existsAsNonSocket(path)) {
          close(fd);
          throw new SerialOutputError(`${label}: cannot connect to socket "${path}": ${errorText(e)}`);
        }
        if (!warned && Date.now() - started >= CONNECT_WARN_AFTER_MS) {
          log.warn(`${label}: waiting for socket "${path}" to accept datagrams (${code})`);
          warned = true;
        }
        Bun.sleepSync(CONNECT_RETRY_MS);
      }
    }
  } finally {
    if (dirFd >= 0) close(dirFd);
  }
}
