// Exit profile for boot-time work (bench/boot-time): with CROSVM_TRACE_EXITS=1 in the environment, each vCPU
// Worker counts its port-I/O and MMIO exits by device and port, times how long the VMM took to answer them, and
// prints a table on stderr when the vCPU stops. With --trace-file (src/base/trace_events.ts) it also cuts the same counts into
// time slices (ExitSlice) for the trace. Off by default: then the buses are used as they are.
import type { Bus } from "../devices/bus.ts";

/** What the vCPU loop needs of a bus. */
export type ExitBus = Pick<Bus, "read" | "write">;

interface Tally {
  readonly space: "io" | "mmio";
  readonly addr: number;
  readonly write: boolean;
  count: number;
  ms: number;
}

export const exitProfileEnabled = () => process.env.CROSVM_TRACE_EXITS === "1";

/** One vCPU's exits during one time slice: per label ("serial port 0x3f8 write"), how many and how long. */
export interface ExitSlice {
  readonly cpu: number;
  /** Wall clock (ms since the epoch) at the slice's start, and its length. */
  readonly startMs: number;
  readonly durMs: number;
  readonly exits: Readonly<Record<string, { count: number; ms: number }>>;
}

const epochMs = () => performance.timeOrigin + performance.now();

/** Wraps the vCPU's two buses; `report()` formats what they saw. Ports are kept apart, MMIO by device. */
export class ExitProfile {
  readonly #tallies = new Map<number, Tally>();
  readonly #started = performance.now();
  /** The current slice's tallies (same keys as #tallies) and the finished slices; only with `sliceMs`. */
  readonly #slice = new Map<number, Tally>();
  readonly #slices: ExitSlice[] = [];
  #sliceStart = epochMs();

  constructor(
    readonly cpu: number,
    readonly ioBus: Bus,
    readonly mmioBus: Bus,
    /** Slice length for the trace; no slices are kept without it. */
    readonly sliceMs?: number,
  ) {}

  /** The finished slices plus the current one (call when the vCPU has stopped). */
  slices(): ExitSlice[] {
    this.#endSlice(epochMs());
    return this.#slices;
  }

  #endSlice(now: number): void {
    if (this.#slice.size > 0) {
      const exits: Record<string, { count: number; ms: number }> = {};
      for (const t of this.#slice.values()) {
        const label = this.#label(t);
        const e = (exits[label] ??= { count: 0, ms: 0 });
        e.count += t.count;
        e.ms += t.ms;
      }
      // The slice's exits all came within sliceMs of its start: the exit that ends it (`now`) opens the next one,
      // however long after. So the slice lasts sliceMs at most, not up to that exit (an idle tail is no slice).
      const durMs = Math.min(now - this.#sliceStart, this.sliceMs ?? Infinity);
      this.#slices.push({ cpu: this.cpu, startMs: this.#sliceStart, durMs, exits });
      this.#slice.clear();
    }
    this.#sliceStart = now;
  }

  get io(): ExitBus {
    return this.#wrap(this.ioBus, "io");
  }

  get mmio(): ExitBus {
    return this.#wrap(this.mmioBus, "mmio");
  }

  #wrap(bus: Bus, space: "io" | "mmio"): ExitBus {
    const record = (addr: number, write: boolean, t0: number) => {
      const range = space === "mmio" ? bus.lookup(addr) : undefined;
      const at = range ? addr - range.offset : addr;
      // Ports below 2^16, MMIO bases below 2^52: one number names (space, address, direction).
      const key = (at * 2 + (write ? 1 : 0)) * 2 + (space === "io" ? 0 : 1);
      let tally = this.#tallies.get(key);
      if (!tally) {
        tally = { space, addr: at, write, count: 0, ms: 0 };
        this.#tallies.set(key, tally);
      }
      const ms = performance.now() - t0;
      tally.count++;
      tally.ms += ms;
      if (this.sliceMs === undefined) return;
      const now = epochMs();
      if (now - this.#sliceStart >= this.sliceMs) this.#endSlice(now);
      let inSlice = this.#slice.get(key);
      if (!inSlice) {
        inSlice = { space, addr: at, write, count: 0, ms: 0 };
        this.#slice.set(key, inSlice);
      }
      inSlice.count++;
      inSlice.ms += ms;
    };
    return {
      read: (addr, data) => {
        const t0 = performance.now();
        const hit = bus.read(addr, data);
        record(addr, false, t0);
        return hit;
      },
      write: (addr, data) => {
        const t0 = performance.now();
        const hit = bus.write(addr, data);
        record(addr, true, t0);
        return hit;
      },
    };
  }

  #label(t: Tally): string {
    const bus = t.space === "io" ? this.ioBus : this.mmioBus;
    const device = bus.lookup(t.addr)?.device.debugLabel ?? "unmapped";
    const where = t.space === "io" ? `port 0x${t.addr.toString(16)}` : `mmio 0x${t.addr.toString(16)}`;
    return `${device} ${where} ${t.write ? "write" : "read"}`;
  }

  report(top = 25): string {
    const rows = [...this.#tallies.values()].sort((a, b) => b.ms - a.ms);
    const count = rows.reduce((s, t) => s + t.count, 0);
    const ms = rows.reduce((s, t) => s + t.ms, 0);
    const wall = performance.now() - this.#started;
    const lines = [
      `exits: vCPU ${this.cpu}: ${count} port/MMIO exits in ${wall.toFixed(0)} ms of running; ${ms.toFixed(0)} ms of it answering them`,
      ...rows
        .slice(0, top)
        .map(
          (t) =>
            `exits: ${t.count.toString().padStart(8)} ${t.ms.toFixed(1).padStart(9)} ms ${((t.ms / t.count) * 1000).toFixed(1).padStart(8)} us/exit  ${this.#label(t)}`,
        ),
    ];
    return `${lines.join("\n")}\n`;
  }
}
