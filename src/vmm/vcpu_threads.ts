// The main-thread side of the vCPU Workers: starts one Worker per vCPU, opens the start gate when all are ready,
// reports the first vCPU that ends the VM, pauses and resumes them all (pause flag + kick, see vcpu_pause.ts), and
// stops them (stop flag + kick signal, see vcpu_kick.ts).
import { workerEntryUrl } from "../base/worker_url.ts";
import { logLevelSpecText } from "../base/log.ts";
import type { SharedBusEntry } from "../devices/shared_device.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";
import { kickThread } from "./vcpu_kick.ts";
import type { VcpuOutcome } from "./vcpu_loop.ts";
import { releasePause, requestPause, wakeParkedForStop } from "./vcpu_pause.ts";
import type { DebugExit } from "../../ffi/kvm_debug.ts";
import type { ExitSlice } from "./exit_profile.ts";
import {
  CONTROL_GO,
  CONTROL_PAUSE,
  CONTROL_STOP,
  CONTROL_WORDS,
  type VcpuWorkerInit,
  type VcpuWorkerMessage,
} from "./vcpu_protocol.ts";

/** How long stop() waits for a kicked Worker to report before terminating it. */
const STOP_TIMEOUT_MS = 2000;
/** How long pause() waits for every kicked vCPU to park. A kick lands within microseconds; this is a safety net. */
const PAUSE_TIMEOUT_MS = 2000;

export class VcpuPauseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VcpuPauseError";
  }
}

/** The vCPU Worker's entry point (src/base/worker_url.ts). */
function workerUrl(): string {
  return workerEntryUrl(import.meta.url, "vmm/vcpu_worker.ts", "./vcpu_worker.ts");
}

interface Thread {
  readonly worker: Worker;
  tid: number;
  exited: boolean;
  readonly done: PromiseWithResolvers<void>;
}

/** What a VcpuThreads is started with beyond its vCPUs: the GDB stub's hook and the trace's slice length. */
export interface VcpuThreadsOptions {
  /** A debug exit (breakpoint, single step) parked `cpu` and set the pause flag; the stub pauses the rest. */
  readonly onDebugExit?: (cpu: number, exit: DebugExit) => void;
  /** --trace-file: each vCPU cuts its exits into slices of this many ms, collected in `exitSlices`. */
  readonly traceSliceMs?: number;
}

export class VcpuThreads {
  /** Every vCPU's exit slices, filled as the vCPUs stop (only with `traceSliceMs`). */
  readonly exitSlices: ExitSlice[] = [];
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  readonly #threads: Thread[] = [];
  readonly #firstExit = Promise.withResolvers<VcpuOutcome>();
  /** Workers created by preload(), each with the error it reported before start() took it over, if any. */
  readonly #preloaded: { worker: Worker; error?: string }[] = [];
  #stopping = false;

  constructor(readonly options: VcpuThreadsOptions = {}) {}

  /** Resolves with the first vCPU outcome that ends the VM (not counting vCPUs stopped by stop()). */
  get firstExit(): Promise<VcpuOutcome> {
    return this.#firstExit.promise;
  }

  /**
   * Creates `count` Workers now, so that their runtimes come up and load their code while the VM is being set
   * up; start() then hands each its vCPU. Optional: start() creates any Worker it lacks.
   */
  preload(count: number): void {
    for (let i = 0; i < count; i++) {
      const entry: { worker: Worker; error?: string } = { worker: new Worker(workerUrl()) };
      entry.worker.onerror = (ev: ErrorEvent) => {
        entry.error = ev.message;
      };
      this.#preloaded.push(entry);
    }
  }

  /** Starts a Worker per vCPU and resolves once all are ready at the start gate; rejects if one fails to set up. */
  async start(
    vcpus: readonly Vcpu[],
    io: readonly SharedBusEntry[],
    mmio: readonly SharedBusEntry[],
  ): Promise<void> {
    const ready = vcpus.map((vcpu) => {
      const r = Promise.withResolvers<void>();
      const preloaded = this.#preloaded.shift();
      const worker = preloaded?.worker ?? new Worker(workerUrl());
      const thread: Thread = { worker, tid: 0, exited: false, done: Promise.withResolvers<void>() };
      this.#threads.push(thread);
      worker.onmessage = (ev: MessageEvent<VcpuWorkerMessage>) => {
        const msg = ev.data;
        if (msg.type === "ready") {
          thread.tid = msg.tid;
          r.resolve();
        } else if (msg.type === "error") {
          thread.exited = true;
          thread.done.resolve();
          r.reject(new Error(msg.message));
        } else if (msg.type === "debug") {
          this.options.onDebugExit?.(msg.cpu, msg.exit);
        } else {
          if (msg.trace) this.exitSlices.push(...msg.trace);
          thread.exited = true;
          thread.done.resolve();
          if (!this.#stopping || msg.outcome.state !== "Stop") this.#firstExit.resolve(msg.outcome);
        }
      };
      worker.onerror = (ev: ErrorEvent) => {
        const message = `vCPU ${vcpu.id} thread failed: ${ev.message}`;
        thread.exited = true;
        thread.done.resolve();
        r.reject(new Error(message));
        this.#firstExit.resolve({ state: "Crash", reason: message });
      };
      if (preloaded?.error !== undefined) {
        const message = `vCPU ${vcpu.id} thread failed: ${preloaded.error}`;
        thread.exited = true;
        thread.done.resolve();
        r.reject(new Error(message));
        this.#firstExit.resolve({ state: "Crash", reason: message });
        return r.promise;
      }
      const init: VcpuWorkerInit = {
        cpu: vcpu.id,
        vcpuFd: vcpu.fd,
        mmapSize: vcpu.mmapSize,
        io,
        mmio,
        control: this.#control.buffer as SharedArrayBuffer,
        logSpec: logLevelSpecText(),
        ...(this.options.onDebugExit ? { debug: true } : {}),
        ...(this.options.traceSliceMs !== undefined ? { traceSliceMs: this.options.traceSliceMs } : {}),
      };
      worker.postMessage(init);
      return r.promise;
    });
    await Promise.all(ready);
  }

  /** Opens the start gate: every vCPU enters KVM_RUN. */
  go(): void {
    Atomics.store(this.#control, CONTROL_GO, 1);
    Atomics.notify(this.#control, CONTROL_GO);
  }

  /**
   * Opens the start gate with the pause flag set: every vCPU parks before its first instruction (a GDB stub's VM
   * waits so for its debugger). Resolves once all are parked; resume() lets them run.
   */
  async goPaused(): Promise<void> {
    Atomics.store(this.#control, CONTROL_PAUSE, 1);
    this.go();
    await this.pause();
  }

  /** Whether the pause flag is set (a vCPU that hit a debug exit sets it itself). */
  get pauseFlag(): boolean {
    return Atomics.load(this.#control, CONTROL_PAUSE) !== 0;
  }

  /**
   * Parks every running vCPU outside KVM_RUN and resolves once all are parked; the guest then executes nothing
   * until resume(). Call after go(). Rejects with VcpuPauseError (and resumes the vCPUs that did park) if a vCPU
   * does not park in time.
   */
  async pause(): Promise<void> {
    const parked = await requestPause(
      this.#control,
      () => this.#kickAll(),
      () => this.#threads.filter((t) => !t.exited).length,
      PAUSE_TIMEOUT_MS,
    );
    if (!parked) {
      releasePause(this.#control);
      throw new VcpuPauseError(`the vCPUs did not pause within ${PAUSE_TIMEOUT_MS} ms`);
    }
  }

  /** Lets parked vCPUs run again (nothing happens if none is parked). */
  resume(): void {
    releasePause(this.#control);
  }

  /** Stops every vCPU (idempotent): sets the stop flag, kicks each thread out of KVM_RUN, waits, terminates. */
  async stop(): Promise<void> {
    this.#stopping = true;
    Atomics.store(this.#control, CONTROL_STOP, 1);
    this.go(); // release Workers still at the gate
    wakeParkedForStop(this.#control);
    this.#kickAll();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref?.());
    await Promise.race([Promise.all(this.#threads.map((t) => t.done.promise)), timeout]);
    for (const t of this.#threads) t.worker.terminate();
    for (const p of this.#preloaded.splice(0)) p.worker.terminate();
  }

  #kickAll(): void {
    for (const t of this.#threads) if (!t.exited && t.tid > 0) kickThread(t.tid);
  }
}
