// What a device fuzz target does with the device's log: every record of a refused chain or request is counted, and
// a failed request ("... failed: CAUSE") whose cause is not one the target expects from guest input is reported,
// as is a record of queue code that threw (the virtio layer catches it to keep the device alive, so the fuzzer
// would not see it otherwise): that is a bug whatever the guest sent.
import type { logger } from "../src/base/log.ts";

type Log = ReturnType<typeof logger>;

/**
 * How device_base.ts ("queue N: ...") and process_queue.ts log an exception out of a device's queue code, and
 * virtio_pci_device.ts one out of a BAR access.
 */
const THREW = [/^[^:]*: queue \d+: /, /: queue processing stopped: /, /: BAR (read|write) at 0x[0-9a-f]+: /];

function matches(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === "string" ? text.startsWith(pattern) : pattern.test(text);
}

/**
 * Routes `log`'s records to the counts in `stats` and `unexpected(text)` until the returned function restores the
 * log's own reporters. A cause is expected when it starts with one of the strings or matches one of the patterns.
 */
export function captureDeviceLog(
  log: Log,
  expectedFailures: readonly (string | RegExp)[],
  stats: { refused: number; failed: number },
  unexpected: (text: string) => void,
): () => void {
  const reporters = log.options.reporters;
  log.setReporters([
    {
      log: (record) => {
        const text = record.args.map(String).join(" ");
        if (THREW.some((p) => p.test(text))) {
          unexpected(text);
          return;
        }
        const at = text.indexOf("failed: ");
        if (at < 0) {
          stats.refused++;
          return;
        }
        stats.failed++;
        const cause = text.slice(at + "failed: ".length);
        if (!expectedFailures.some((p) => matches(cause, p))) unexpected(text);
      },
    },
  ]);
  return () => log.setReporters(reporters);
}
