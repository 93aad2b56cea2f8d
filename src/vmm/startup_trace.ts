// Startup timing for benchmarks (bench/boot-time): with CROSVM_TRACE_STARTUP=1 in the environment, each setup
// phase prints one stderr line "startup: PHASE after N ms (wall clock E ms)". N counts from this process's time
// origin (about its exec); E is the wall clock (ms since the epoch), so a launcher can measure from its own exec.
// Off by default: then it prints nothing and costs one environment lookup. With --trace-file each phase is also a
// span in the trace (src/base/trace_events.ts).
import { activeTrace } from "../base/trace_events.ts";
const enabled = process.env.CROSVM_TRACE_STARTUP === "1";

/** The line for `phase` at `sinceOriginMs` after the time origin; exported for its unit test. */
export function startupLine(phase: string, sinceOriginMs: number, wallClockMs: number): string {
  return `startup: ${phase} after ${sinceOriginMs.toFixed(1)} ms (wall clock ${wallClockMs.toFixed(1)} ms)\n`;
}

export function traceStartup(phase: string): void {
  activeTrace()?.phase(phase);
  if (!enabled) return;
  const now = performance.now();
  process.stderr.write(startupLine(phase, now, performance.timeOrigin + now));
}
