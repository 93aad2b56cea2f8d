// What runs a device model's serve loop (host.ts): a device process (the default, sandboxed multiprocess mode),
// or a Worker of the VMM (single process mode, --disable-sandbox; device_worker.ts). Both speak the same protocol
// over the same sockets; this is the part that differs: how the runner ends, how it is killed, and why it ended.
import { close } from "../../../ffi/libc.ts";
import { workerEntryUrl } from "../../base/worker_url.ts";
import { describeExit } from "./death.ts";
import type { DeviceWorkerExit, DeviceWorkerInit } from "./device_worker.ts";

export interface DeviceRunner {
  /** "process" or "worker", for messages and tests. */
  readonly mode: "process" | "worker";
  /** Resolves when the runner has ended (or, for a Worker, was abandoned by kill()). */
  readonly exited: Promise<void>;
  readonly running: boolean;
  /** Why it ended (waits for it): "exited with status 1", "killed by SIGSYS (seccomp: syscall 83 mkdir)". */
  exitCause(pid: number): Promise<string>;
  /** Ends it without asking. */
  kill(): void;
}

export class ProcessRunner implements DeviceRunner {
  readonly mode = "process";
  readonly exited: Promise<void>;

  constructor(readonly proc: Bun.Subprocess) {
    this.exited = proc.exited.then(() => undefined);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  exitCause(pid: number): Promise<string> {
    return this.exited.then(() =>
      describeExit(pid, { exitCode: this.proc.exitCode, signalCode: this.proc.signalCode }),
    );
  }

  kill(): void {
    this.proc.kill("SIGKILL");
  }
}

/** The device Worker's entry point (src/base/worker_url.ts). */
function deviceWorkerUrl(): string {
  return workerEntryUrl(import.meta.url, "jail/device_process/device_worker.ts", "./device_worker.ts");
}

export class WorkerRunner implements DeviceRunner {
  readonly mode = "worker";
  readonly #ended = Promise.withResolvers<string>();
  readonly exited: Promise<void>;
  readonly #worker: Worker;
  #running = true;

  /**
   * Starts the serve loop of `kind` in a new Worker. `ownedFds` (the Worker's ends of the sockets) are closed once
   * it has ended.
   */
  constructor(kind: string, spec: string, ownedFds: readonly number[]) {
    this.#worker = new Worker(deviceWorkerUrl());
    this.exited = this.#ended.promise.then(() => {
      this.#running = false;
      for (const fd of ownedFds) close(fd);
    });
    this.#worker.onmessage = (ev: MessageEvent<DeviceWorkerExit>) =>
      this.#ended.resolve(`exited with status ${ev.data.status}`);
    this.#worker.onerror = (ev: ErrorEvent) => this.#ended.resolve(`failed: ${ev.message}`);
    this.#worker.addEventListener("close", () => this.#ended.resolve("ended"));
    const init: DeviceWorkerInit = { kind, spec };
    this.#worker.postMessage(init);
  }

  get running(): boolean {
    return this.#running;
  }

  exitCause(_pid: number): Promise<string> {
    return this.#ended.promise.then((cause) => `its thread ${cause}`);
  }

  /**
   * A Worker blocked in poll(2) cannot be interrupted: terminate() takes effect when it next returns to
   * JavaScript. The runner counts as ended at once; the thread goes with the process.
   */
  kill(): void {
    this.#worker.terminate();
    this.#ended.resolve("was terminated");
  }
}
