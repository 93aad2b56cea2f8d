// What `vsock-io sink` and `vsock-io send` print (scripts/guest/tools/vsock_io.c), read back by bench/vsock.

export interface SinkReport {
  /** Bytes the sink read before the end of the stream. */
  bytes: number;
  /** Nanoseconds from the first byte to the end of the stream (the sink's CLOCK_MONOTONIC). */
  ns: number;
}

/** Parses the sink's one line "BYTES NANOSECONDS"; throws naming what it got otherwise. */
export function parseSinkReport(output: string): SinkReport {
  const match = /^(\d+) (\d+)$/.exec(output.trim());
  if (!match)
    throw new Error(`vsock-io sink: expected "BYTES NANOSECONDS", got ${JSON.stringify(output.trim())}`);
  const report = { bytes: Number(match[1]), ns: Number(match[2]) };
  if (report.bytes === 0 || report.ns === 0)
    throw new Error(`vsock-io sink: an empty stream (${report.bytes} bytes in ${report.ns} ns)`);
  return report;
}

/** Parses the sender's one line "BYTES"; throws naming what it got otherwise. */
export function parseSendReport(output: string): number {
  const match = /^(\d+)$/.exec(output.trim());
  if (!match) throw new Error(`vsock-io send: expected "BYTES", got ${JSON.stringify(output.trim())}`);
  return Number(match[1]);
}

/** Megabits (10^6 bits) per second of a sink's report. */
export const mbitPerSecond = (r: SinkReport): number => (r.bytes * 8) / (r.ns / 1e9) / 1e6;
