// The main thread's one wait loop. Bun's event loop cannot watch an eventfd or a SOCK_SEQPACKET socket, so
// instead of polling them on timers the VMM registers every such fd here: a Worker (wait_loop_worker.ts) sleeps
// in epoll_wait(2) on all of them at once and posts the ready ones to this thread, which runs their handlers
// between its other work (hub calls, signals, Worker messages). Nothing wakes while nothing happens, and a ready
// fd is handled within one message hop (some tens of microseconds on a host).
//
// Registrations are EPOLLONESHOT: after its handler has run a watch is re-armed (EPOLL_CTL_MOD), so a handler
// that consumed what was ready is not called again until something new arrives, and one that left data behind
// (level-triggered semantics) is called again at once. A watch can be paused (not re-armed after its handler,
// e.g. a control connection whose request is still being answered) and resumed.
import {
  close,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLLIN,
  EPOLLONESHOT,
  epollCreate,
  epollCtl,
  eventfd,
  eventfdWrite,
} from "../../ffi/libc.ts";
import { logger } from "./log.ts";
import { workerEntryUrl } from "./worker_url.ts";
import { STOP_TOKEN, type WaitLoopBatch, type WaitLoopWorkerInit } from "./wait_loop_worker.ts";

const log = logger("base::wait_loop");

/** Called on this thread with the epoll events (EPOLLIN, EPOLLHUP, EPOLLERR) that made the fd ready. */
export type ReadyHandler = (events: number) => void;

export interface Watch {
  /** Stops re-arming after the next handler run (or drops an event that arrives meanwhile). */
  pause(): void;
  /** Re-arms a paused watch. */
  resume(): void;
  /** Removes the registration; call it before closing the fd. Idempotent. */
  cancel(): void;
}

/** The Worker's entry point (worker_url.ts). */
function workerUrl(): string {
  return workerEntryUrl(import.meta.url, "base/wait_loop_worker.ts", "./wait_loop_worker.ts");
}

interface Registration {
  readonly fd: number;
  readonly what: string;
  readonly handler: ReadyHandler;
  armed: boolean;
  paused: boolean;
  running: boolean;
  cancelled: boolean;
}

const ARMED_EVENTS = EPOLLIN | EPOLLONESHOT;

export class WaitLoop {
  static #shared: WaitLoop | undefined;
  readonly #epfd: number;
  readonly #stopFd: number;
  readonly #worker: Worker;
  readonly #watches = new Map<number, Registration>();
  #nextToken = STOP_TOKEN + 1;
  #closed = false;

  /** The loop of this thread (the VMM's main thread), created on first use and never closed. */
  static shared(): WaitLoop {
    WaitLoop.#shared ??= new WaitLoop();
    return WaitLoop.#shared;
  }

  constructor() {
    this.#epfd = epollCreate();
    this.#stopFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epollCtl(this.#epfd, EPOLL_CTL_ADD, this.#stopFd, EPOLLIN, STOP_TOKEN);
    this.#worker = new Worker(workerUrl());
    this.#worker.onmessage = (ev: MessageEvent<WaitLoopBatch>) => this.#dispatch(ev.data);
    this.#worker.onerror = (ev: ErrorEvent) => log.error(`wait loop thread failed: ${ev.message}`);
    const init: WaitLoopWorkerInit = { epfd: this.#epfd };
    this.#worker.postMessage(init);
    // The thread keeps the process alive only while something is watched.
    this.#worker.unref();
  }

  /** Number of live watches (tests, diagnostics). */
  get size(): number {
    return this.#watches.size;
  }

  /** Calls `handler` on this thread whenever `fd` is readable or hung up; `what` names the fd in errors. */
  watch(fd: number, what: string, handler: ReadyHandler): Watch {
    if (this.#closed) throw new Error(`wait loop: closed; cannot watch ${what}`);
    const token = this.#nextToken++;
    const reg: Registration = {
      fd,
      what,
      handler,
      armed: true,
      paused: false,
      running: false,
      cancelled: false,
    };
    epollCtl(this.#epfd, EPOLL_CTL_ADD, fd, ARMED_EVENTS, token);
    this.#watches.set(token, reg);
    if (this.#watches.size === 1) this.#worker.ref();
    return {
      pause: () => {
        reg.paused = true;
      },
      resume: () => {
        reg.paused = false;
        if (!reg.armed && !reg.running) this.#arm(token, reg);
      },
      cancel: () => this.#cancel(token, reg),
    };
  }

  /** Ends the Worker and closes the epoll instance; every watch is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [token, reg] of [...this.#watches]) this.#cancel(token, reg);
    eventfdWrite(this.#stopFd);
    this.#worker.onmessage = null;
    this.#worker.unref();
    // The Worker has left epoll_wait once it has seen the stop fd; its descriptors are closed with it.
    this.#worker.addEventListener("close", () => {
      close(this.#epfd);
      close(this.#stopFd);
    });
    if (WaitLoop.#shared === this) WaitLoop.#shared = undefined;
  }

  #dispatch(batch: WaitLoopBatch): void {
    for (let i = 0; i + 1 < batch.length; i += 2) {
      const token = batch[i]!;
      const reg = this.#watches.get(token);
      if (!reg || reg.cancelled) continue;
      reg.armed = false;
      if (reg.paused) continue;
      reg.running = true;
      try {
        reg.handler(batch[i + 1]!);
      } catch (e) {
        log.error(`${reg.what}: ${(e as Error).message}`);
      } finally {
        reg.running = false;
      }
      if (!reg.cancelled && !reg.paused) this.#arm(token, reg);
    }
  }

  #arm(token: number, reg: Registration): void {
    try {
      epollCtl(this.#epfd, EPOLL_CTL_MOD, reg.fd, ARMED_EVENTS, token);
      reg.armed = true;
    } catch (e) {
      // The fd was closed without cancelling its watch: nothing more can come from it.
      log.warn(`${reg.what}: no longer watched: ${(e as Error).message}`);
      this.#cancel(token, reg);
    }
  }

  #cancel(token: number, reg: Registration): void {
    if (reg.cancelled) return;
    reg.cancelled = true;
    this.#watches.delete(token);
    if (this.#watches.size === 0) this.#worker.unref();
    try {
      epollCtl(this.#epfd, EPOLL_CTL_DEL, reg.fd, 0, token);
    } catch {
      // Already closed: the kernel dropped the registration with the last reference to the file.
    }
  }
}
