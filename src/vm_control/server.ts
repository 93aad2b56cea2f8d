// The control socket's server side: listens on `--socket PATH`, reads one VmRequest per packet, asks the VM's
// VmControlHandler for the VmResponse and sends it back on the same connection. A connection may carry any
// number of requests, answered in order; a malformed or unknown request is answered with {"ErrString": ...} and
// the server goes on serving.
//
// Waiting without blocking Bun's event loop: Bun cannot watch a SOCK_SEQPACKET fd, so the listening socket and
// every connection are registered with the thread's wait loop (src/base/wait_loop.ts), which calls back on this
// thread when one is readable: nothing runs while no client talks. A connection whose request is being answered
// is paused (requests on one connection are answered in order); after answering, the server reads the
// connection again at once and resumes its watch.
//
// The socket file is created with mode 0600 (fchmod on the socket before bind, which the kernel applies to the new
// inode, then chmod to be exact whatever the umask) and removed by close() or at process exit.
import { activeTrace } from "../base/trace_events.ts";
import { lstatSync, statSync, unlinkSync } from "node:fs";
import * as libc from "../../ffi/libc.ts";
import { logger } from "../base/log.ts";
import { WaitLoop, type Watch } from "../base/wait_loop.ts";
import {
  decodeRequest,
  encodeResponse,
  errString,
  MAX_MESSAGE_SIZE,
  ProtocolError,
  type VmRequest,
  type VmResponse,
} from "./protocol.ts";
import {
  acceptSeqpacket,
  connectSeqpacket,
  newSeqpacketSocket,
  recvPacket,
  sendPacket,
} from "./seqpacket.ts";
import { resolveSocketPath } from "./socket_path.ts";

const log = logger("vm_control::server");

/** What the VM run loop implements to serve the control socket. */
export interface VmControlHandler {
  /**
   * Carries out one request and resolves with its answer. Errors the VM can name resolve to
   * `{kind: "ErrString"}` (or `{kind: "Err", errno}`); a rejection is answered as an ErrString too.
   * For Exit, resolve with Ok and end the VM afterwards: close() waits for answers in flight.
   */
  handle(request: VmRequest): Promise<VmResponse>;
}

export interface ControlServerOptions {
  /** The wait loop that watches the sockets (default: this thread's, WaitLoop.shared()). */
  readonly waitLoop?: WaitLoop;
  /** How long close() waits for requests in flight before closing their connections, in ms (default 2000). */
  readonly closeTimeoutMs?: number;
  /** The pid in crosvm-<pid>.sock when the path is a directory (default: this process). */
  readonly pid?: number;
}

/** The socket could not be set up; the message names the path and the reason. */
export class ControlServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlServerError";
  }
}

/** crosvm's listen backlog (base UnixSeqpacketListener::bind). */
const LISTEN_BACKLOG = 128;
const SOCKET_MODE = 0o600;
// errno values, include/uapi/asm-generic/errno.h.
const EADDRINUSE = 98;
const ECONNREFUSED = 111;
const EPROTOTYPE = 91;
const EAGAIN = 11;

interface Connection {
  readonly fd: number;
  readonly id: number;
  watch: Watch | undefined;
  busy: boolean;
  open: boolean;
}

export class ControlServer {
  private readonly connections = new Map<number, Connection>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly listenWatch: Watch;
  private readonly exitHook = () => this.unlinkIfOurs();
  private closing: Promise<void> | undefined;
  private nextConnectionId = 1;

  private constructor(
    /** The socket file (a directory argument resolved to crosvm-<pid>.sock). */
    readonly path: string,
    private readonly listenFd: number,
    private readonly inode: { dev: number; ino: number },
    private readonly handler: VmControlHandler,
    private readonly closeTimeoutMs: number,
    private readonly loop: WaitLoop,
  ) {
    this.listenWatch = loop.watch(listenFd, `control socket ${path}`, () => this.acceptAll());
    process.on("exit", this.exitHook);
  }

  /**
   * Listens on `path` (a directory means `path/crosvm-<pid>.sock`). Replaces a stale socket file nobody listens
   * on; refuses a path where a server is listening, or that is not a socket.
   */
  static listen(path: string, handler: VmControlHandler, options: ControlServerOptions = {}): ControlServer {
    const socketPath = resolveSocketPath(path, options.pid);
    removeStaleSocket(socketPath);
    const fd = newSeqpacketSocket(`the control socket ${socketPath}`);
    let bound = false;
    try {
      libc.fchmod(fd, SOCKET_MODE, `the control socket ${socketPath}`);
      try {
        libc.bind(fd, libc.sockaddrUn(socketPath), socketPath);
      } catch (e) {
        if (e instanceof libc.SysError && e.errno === EADDRINUSE)
          throw inUse(socketPath, "it was created meanwhile");
        throw e;
      }
      bound = true;
      libc.chmod(socketPath, SOCKET_MODE);
      libc.listen(fd, LISTEN_BACKLOG, socketPath);
      const st = statSync(socketPath);
      log.debug(`control socket listening on ${socketPath}`);
      return new ControlServer(
        socketPath,
        fd,
        { dev: st.dev, ino: st.ino },
        handler,
        options.closeTimeoutMs ?? 2000,
        options.waitLoop ?? WaitLoop.shared(),
      );
    } catch (e) {
      libc.close(fd);
      if (bound) unlinkSync(socketPath);
      if (e instanceof ControlServerError) throw e;
      throw new ControlServerError(`control socket ${socketPath}: ${(e as Error).message}`);
    }
  }

  /** Open connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, waits (up to closeTimeoutMs) for requests in flight to be answered, closes every connection
   * and the listening socket, and removes the socket file. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.listenWatch.cancel();
    for (const conn of this.connections.values()) conn.watch?.pause();
    if (this.inFlight.size > 0) {
      let timeout: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => (timeout = setTimeout(resolve, this.closeTimeoutMs))),
      ]);
      clearTimeout(timeout);
    }
    for (const conn of this.connections.values()) this.drop(conn);
    libc.close(this.listenFd);
    this.unlinkIfOurs();
    process.off("exit", this.exitHook);
    log.debug(`control socket ${this.path} closed`);
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  private acceptAll(): void {
    if (this.closed) return;
    for (;;) {
      let fd: number | null;
      try {
        fd = acceptSeqpacket(this.listenFd, this.path);
      } catch (e) {
        // A failing accept must not stop the VM; log it and try again when the socket is next readable.
        log.error(`control socket ${this.path}: ${(e as Error).message}`);
        return;
      }
      if (fd === null) return;
      const conn: Connection = { fd, id: this.nextConnectionId++, watch: undefined, busy: false, open: true };
      this.connections.set(fd, conn);
      conn.watch = this.loop.watch(fd, `control connection ${conn.id}`, () => this.readRequest(conn));
      log.debug(`control connection ${conn.id} accepted`);
    }
  }

  /** Reads one packet from `conn` if one is there and starts serving it. */
  private readRequest(conn: Connection): void {
    if (!conn.open || conn.busy || this.closed) return;
    let received;
    try {
      received = recvPacket(conn.fd, MAX_MESSAGE_SIZE, `control connection ${conn.id}`);
    } catch (e) {
      log.warn(`control connection ${conn.id}: ${(e as Error).message}`);
      this.drop(conn);
      return;
    }
    switch (received.kind) {
      case "none":
        return;
      case "closed":
        this.drop(conn);
        return;
      case "oversized":
        this.reply(
          conn,
          errString(
            `control request: ${received.size} bytes is over the ${MAX_MESSAGE_SIZE}-byte message limit`,
          ),
        );
        this.readRequest(conn);
        return;
      case "packet":
        this.serve(conn, received.bytes);
    }
  }

  private serve(conn: Connection, bytes: Uint8Array): void {
    conn.busy = true;
    conn.watch?.pause();
    const done = this.answer(bytes).then((response) => {
      this.inFlight.delete(done);
      conn.busy = false;
      if (!conn.open) return;
      this.reply(conn, response);
      if (this.closed) return;
      // A client may have queued its next request already; serve it now, else wait for the next one.
      this.readRequest(conn);
      if (conn.open && !conn.busy) conn.watch?.resume();
    });
    this.inFlight.add(done);
  }

  /** The response to one packet; never rejects. */
  private async answer(bytes: Uint8Array): Promise<VmResponse> {
    const decoded = decodeRequest(bytes);
    if (!decoded.ok) {
      log.warn(decoded.error.message);
      return errString(decoded.error.message);
    }
    const request = decoded.value;
    try {
      const trace = activeTrace();
      if (trace) return await trace.time("control", request.kind, () => this.handler.handle(request));
      return await this.handler.handle(request);
    } catch (e) {
      const message = `${request.kind} failed: ${e instanceof Error ? e.message : String(e)}`;
      log.error(`control request ${message}`);
      return errString(message);
    }
  }

  private reply(conn: Connection, response: VmResponse): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeResponse(response);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      log.error(e.message);
      bytes = encodeResponse(errString(`the ${response.kind} response is too large to send`));
    }
    let result;
    try {
      result = sendPacket(conn.fd, bytes, `control connection ${conn.id}`);
    } catch (e) {
      log.warn(`control connection ${conn.id}: ${(e as Error).message}`);
      result = "peer-gone" as const;
    }
    if (result === "would-block") {
      // The client does not read its answers; it is not worth blocking the VM's main thread for.
      log.warn(`control connection ${conn.id}: client is not reading its responses; closing it`);
      this.drop(conn);
    } else if (result === "peer-gone") {
      this.drop(conn);
    }
  }

  private drop(conn: Connection): void {
    if (!conn.open) return;
    conn.open = false;
    conn.watch?.cancel();
    this.connections.delete(conn.fd);
    libc.close(conn.fd);
    log.debug(`control connection ${conn.id} closed`);
  }

  /** Removes the socket file if it is still the one this server bound (not a successor's). */
  private unlinkIfOurs(): void {
    try {
      const st = lstatSync(this.path);
      if (st.dev === this.inode.dev && st.ino === this.inode.ino) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

function inUse(path: string, detail: string): ControlServerError {
  return new ControlServerError(`control socket ${path}: already in use, ${detail} (EADDRINUSE)`);
}

/**
 * Makes `path` free for bind: nothing to do if it does not exist; a socket file nobody listens on (left by a
 * VM that was killed) is removed; a live socket or a file of another kind is refused.
 */
function removeStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new ControlServerError(
      `control socket ${path}: the path exists and is not a socket; not replacing it`,
    );
  }
  let probe: number;
  try {
    probe = connectSeqpacket(path);
  } catch (e) {
    if (!(e instanceof libc.SysError)) throw e;
    if (e.errno === ECONNREFUSED) {
      log.info(`control socket ${path}: removing a stale socket file`);
      unlinkSync(path);
      return;
    }
    if (e.errno === EPROTOTYPE) throw inUse(path, "another kind of socket is listening there");
    if (e.errno === EAGAIN) throw inUse(path, "another VM is listening there");
    throw new ControlServerError(`control socket ${path}: ${e.message}`);
  }
  libc.close(probe);
  throw inUse(path, "another VM is listening there");
}
