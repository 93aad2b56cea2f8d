// --trace-file: the VM's life as Chrome trace-event JSON (the "JSON Object Format" of Google's Trace Event Format
// document, which Perfetto's UI and chrome://tracing open): complete events ("ph":"X", ts and dur in µs since
// the VMM process started), instant events ("ph":"i") and thread names ("ph":"M"). One recorder per VMM process,
// installed by src/vmm/run.ts; every trace point first asks `activeTrace()`, so with tracing off a trace point
// costs one load and a branch, and the vCPU loop has none (its exits are counted by the ExitProfile wrapper of
// the buses, only installed when tracing: src/vmm/exit_profile.ts), nor do the device queues (a Queue is given a
// trace only when the VMM traces: src/devices/virtio/queue_trace.ts, src/jail/device_process/queue_trace_tracks.ts).
// At most MAX_EVENTS events are kept; the rest are counted and the count is written as metadata.
import { writeFileSync } from "node:fs";

export const MAX_EVENTS = 1_000_000;

export interface TraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: "X" | "i" | "M";
  /** µs since the VMM process's time origin. */
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: "g" | "p" | "t";
  readonly args?: Readonly<Record<string, unknown>>;
}

/** Length of the time slices that vCPU exits and device queue requests are summed over. */
export const TRACE_SLICE_MS = 50;

/** Thread ids in the trace: the VMM's main thread, then one per vCPU, one per device, one per device queue. */
export const TRACE_TID = {
  main: 1,
  vcpu: (cpu: number) => 100 + cpu,
  device: (index: number) => 1000 + index,
  /** Queue indexes are u16 (the Hello's queue count). */
  queue: (device: number, queue: number) => 1_000_000 + device * 65_536 + queue,
} as const;

/** Wall clock (ms since the epoch) to the trace's µs. */
export const epochToTraceUs = (epochMs: number) => Math.max(0, (epochMs - performance.timeOrigin) * 1000);
const nowUs = () => performance.now() * 1000;

export class TraceRecorder {
  readonly #events: TraceEvent[] = [];
  readonly #threadNames = new Map<number, string>();
  #dropped = 0;
  #lastPhaseUs = 0;
  readonly #beforeWrite: (() => void)[] = [];

  constructor(readonly path: string) {
    this.threadName(TRACE_TID.main, "VMM main");
  }

  get events(): readonly TraceEvent[] {
    return this.#events;
  }

  threadName(tid: number, name: string): void {
    this.#threadNames.set(tid, name);
  }

  #push(e: TraceEvent): void {
    if (this.#events.length < MAX_EVENTS) this.#events.push(e);
    else this.#dropped++;
  }

  /** A span [startUs, startUs + durUs) on `tid`. */
  span(
    cat: string,
    name: string,
    startUs: number,
    durUs: number,
    tid: number = TRACE_TID.main,
    args?: Record<string, unknown>,
  ): void {
    this.#push({
      name,
      cat,
      ph: "X",
      ts: startUs,
      dur: Math.max(0, durUs),
      pid: process.pid,
      tid,
      ...(args ? { args } : {}),
    });
  }

  instant(cat: string, name: string, tid: number = TRACE_TID.main, args?: Record<string, unknown>): void {
    this.#push({ name, cat, ph: "i", s: "t", ts: nowUs(), pid: process.pid, tid, ...(args ? { args } : {}) });
  }

  /** A start-up phase reached now: a span from the previous phase (the first from the process's start). */
  phase(name: string): void {
    const now = nowUs();
    this.span("startup", name, this.#lastPhaseUs, now - this.#lastPhaseUs);
    this.#lastPhaseUs = now;
  }

  /** Times `work` as a span (it may be async); the span is recorded whether it resolves or throws. */
  async time<T>(
    cat: string,
    name: string,
    work: () => Promise<T>,
    tid: number = TRACE_TID.main,
    args?: Record<string, unknown>,
  ): Promise<T> {
    const start = nowUs();
    try {
      return await work();
    } finally {
      this.span(cat, name, start, nowUs() - start, tid, args);
    }
  }

  /** Runs `fn` once when the file is written, before the events are serialized (for summaries known only then). */
  beforeWrite(fn: () => void): void {
    this.#beforeWrite.push(fn);
  }

  toJson(): string {
    for (const fn of this.#beforeWrite.splice(0)) fn();
    const meta: TraceEvent[] = [...this.#threadNames].map(([tid, name]) => ({
      name: "thread_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: process.pid,
      tid,
      args: { name },
    }));
    const process_name: TraceEvent = {
      name: "process_name",
      cat: "__metadata",
      ph: "M",
      ts: 0,
      pid: process.pid,
      tid: TRACE_TID.main,
      args: { name: "crosvm" },
    };
    return JSON.stringify({
      traceEvents: [process_name, ...meta, ...this.#events],
      displayTimeUnit: "ms",
      otherData: { droppedEvents: this.#dropped },
    });
  }

  /** Writes the file (replacing it); throws SystemError-like errors from node:fs. */
  write(): void {
    writeFileSync(this.path, this.toJson());
  }
}

let active: TraceRecorder | undefined;

/** The recorder of this VMM run, or undefined when --trace-file is off. */
export const activeTrace = (): TraceRecorder | undefined => active;

export function setActiveTrace(recorder: TraceRecorder | undefined): void {
  active = recorder;
}
