// The GDB stub's TCP side (--gdb PORT): listens on 127.0.0.1 only (the stub can read and write all of guest
// memory), serves one debugger at a time (a second connection is closed at once), acknowledges packets (`+`,
// `-` for a bad checksum) and runs them through GdbStub in order. A debugger that connects to a running VM stops
// it first (gdb expects a stopped target); one that goes away without detaching leaves the VM running, as
// QEMU's gdbstub does.
import type { Socket, TCPSocketListener } from "bun";
import { logger } from "../../base/log.ts";
import { RspDecoder, encodePacket, type RspEvent } from "./rsp_codec.ts";
import { GdbStub } from "./stub.ts";
import type { VmDebugTarget } from "./vm_target.ts";

const log = logger("vmm::gdb");

interface Session {
  readonly stub: GdbStub;
  readonly decoder: RspDecoder;
  /** Events are handled one after another (an interrupt waits for the vCPUs to park). */
  queue: Promise<void>;
  /** Bytes the socket has not taken yet. */
  unsent: Uint8Array[];
  detached: boolean;
}

export class GdbServer {
  #session: Session | undefined;
  #socket: Socket<undefined> | undefined;

  private constructor(
    readonly target: VmDebugTarget,
    readonly listener: TCPSocketListener<undefined>,
  ) {
    target.onStop = (cpu, reason) => this.#session?.stub.stopped(cpu, reason);
  }

  /** Listens on 127.0.0.1:`port`; throws with one line when the port cannot be bound. */
  static listen(port: number, target: VmDebugTarget): GdbServer {
    let server: GdbServer | undefined;
    let listener: TCPSocketListener<undefined>;
    try {
      listener = Bun.listen<undefined>({
        hostname: "127.0.0.1",
        port,
        socket: {
          open: (socket) => server?.open(socket),
          data: (socket, data) => server?.data(socket, data),
          drain: (socket) => server?.drain(socket),
          close: (socket) => server?.closed(socket),
          error: (socket, error) => {
            log.warn(`gdb connection: ${error.message}`);
            server?.closed(socket);
          },
        },
      });
    } catch (e) {
      throw new Error(`--gdb ${port}: cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`);
    }
    server = new GdbServer(target, listener);
    log.info(`waiting for gdb on 127.0.0.1:${port} (target remote :${port}); the VM starts stopped`);
    return server;
  }

  open(socket: Socket<undefined>): void {
    if (this.#socket) {
      log.warn("a second gdb connection was refused: one debugger at a time");
      socket.end();
      return;
    }
    this.#socket = socket;
    const session: Session = {
      stub: new GdbStub(this.target, (data) => this.#write(socket, encodePacket(data))),
      decoder: new RspDecoder(),
      queue: Promise.resolve(),
      unsent: [],
      detached: false,
    };
    this.#session = session;
    log.info("gdb attached");
    // A VM left running by a previous debugger stops for this one.
    session.queue = session.queue.then(() => this.target.interrupt()).catch((e) => this.#failed(e));
  }

  data(socket: Socket<undefined>, data: Uint8Array): void {
    const session = this.#session;
    if (socket !== this.#socket || !session) return;
    for (const event of session.decoder.feed(data))
      session.queue = session.queue
        .then(() => this.#handle(socket, session, event))
        .catch((e) => this.#failed(e));
  }

  async #handle(socket: Socket<undefined>, session: Session, event: RspEvent): Promise<void> {
    if (event.kind === "interrupt") return session.stub.interrupt();
    if (event.kind === "bad-packet") return this.#write(socket, new TextEncoder().encode("-"));
    this.#write(socket, new TextEncoder().encode("+"));
    const text = new TextDecoder("latin1").decode(event.data);
    const reply = session.stub.handle(text);
    if (reply !== undefined) this.#write(socket, encodePacket(reply));
    if (text === "k") session.detached = true;
    if (text[0] === "D") {
      session.detached = true;
      log.info("gdb detached; the VM runs on");
      socket.end();
    }
  }

  #failed(e: unknown): void {
    log.error(`gdb stub: ${(e as Error).message}`);
  }

  #write(socket: Socket<undefined>, bytes: Uint8Array): void {
    const session = this.#session;
    if (socket !== this.#socket || !session) return;
    if (session.unsent.length > 0) {
      session.unsent.push(bytes);
      return;
    }
    const n = socket.write(bytes);
    if (n < bytes.length) session.unsent.push(bytes.subarray(Math.max(n, 0)));
  }

  drain(socket: Socket<undefined>): void {
    const session = this.#session;
    if (socket !== this.#socket || !session) return;
    while (session.unsent.length > 0) {
      const next = session.unsent[0]!;
      const n = socket.write(next);
      if (n < next.length) {
        session.unsent[0] = next.subarray(Math.max(n, 0));
        return;
      }
      session.unsent.shift();
    }
  }

  closed(socket: Socket<undefined>): void {
    if (socket !== this.#socket) return;
    const session = this.#session;
    this.#socket = undefined;
    this.#session = undefined;
    // Without a detach, the debugger's breakpoints would stop a VM nobody watches: stop the vCPUs (their debug
    // state can only change outside KVM_RUN), take the breakpoints out and run on.
    if (session && !session.detached) {
      log.info("gdb went away without detaching; the VM runs on");
      session.queue
        .then(async () => {
          await this.target.interrupt();
          this.target.detach();
        })
        .catch((e) => this.#failed(e));
    }
  }

  stop(): void {
    this.#socket?.end();
    this.listener.stop(true);
  }
}
