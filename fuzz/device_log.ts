// What a device fuzz target does with the device's log: every record of a refused chain or request is counted, and
// a failed request ("... failed: CAUSE") whose cause is not one the target expects from guest input is reported.
import type { logger } from "../src/base/log.ts";

type Log = ReturnType<typeof logger>;

/**
 * Routes `log`'s records to the counts in `stats` and `unexpected(text)` until the returned function restores the
 * log's own reporters.
 */
export function captureDeviceLog(
  log: Log,
  expectedFailures: readonly string[],
  stats: { refused: number; failed: number },
  unexpected: (text: string) => void,
): () => void {
  const reporters = log.options.reporters;
  log.setReporters([
    {
      log: (record) => {
        const text = record.args.map(String).join(" ");
        const at = text.indexOf("failed: ");
        if (at < 0) {
          stats.refused++;
          return;
        }
        stats.failed++;
        const cause = text.slice(at + "failed: ".length);
        if (!expectedFailures.some((p) => cause.startsWith(p))) unexpected(text);
      },
    },
  ]);
  return () => log.setReporters(reporters);
}
