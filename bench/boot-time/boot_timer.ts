// Runs inside the outer rig VM (as `BUN_BE_BUN=1 crosvm boot_timer.ts PLAN.json`, the compiled crosvm acting as
// bun): times one nested VMM from its exec to the first byte the guest's /init writes to the debugcon port
// (the byte 0xFF: scripts/guest/rootfs/init, boot_marker=1), which the VMM writes into a FIFO this process holds open.
// Prints one JSON line: {"bootMs":..,"startup":{"<phase>":<ms after exec>,..}}. With CROSVM_TRACE_STARTUP=1
// crosvm prints its setup phases on stderr with wall-clock stamps (src/vmm/startup_trace.ts); QEMU prints none.
import { createReadStream, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";

interface Plan {
  argv: string[];
  /** The FIFO the VMM's debugcon output goes to. */
  marker: string;
  /** Where the VMM's stdout (the guest console) and stderr go. */
  stdout: string;
  stderr: string;
  timeoutMs: number;
  /**
   * Instead of the debugcon byte: this text on the guest console (the VMM's stdout then goes to the marker FIFO,
   * and is written to `stdout` at the end), e.g. a distribution's login prompt.
   */
  markerText?: string;
  /** With markerText: each console line is written to `stdout` after the ms from the exec it arrived at and a tab. */
  stampLines?: boolean;
  /** Extra environment for the VMM (e.g. CROSVM_TRACE_EXITS=1). */
  env?: Record<string, string>;
}

const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Plan;
rmSync(plan.marker, { force: true });
if (Bun.spawnSync(["mkfifo", plan.marker]).exitCode !== 0) throw new Error(`mkfifo ${plan.marker} failed`);
// Read-write, so that neither side blocks in open() and the reader never sees end-of-file.
const markerStream = createReadStream("", { fd: openSync(plan.marker, "r+") });
/** The byte /init writes; firmware (SeaBIOS) prints ASCII text on the same port before it. */
const MARKER_BYTE = 0xff;
/** The console so far, when it goes through the marker FIFO (markerText). */
let consoleText = "";
/** With stampLines: the console's complete lines so far, each after its arrival time. */
let stampedText = "";
let lineStart = 0;
const marker = new Promise<number>((resolve) =>
  markerStream.on("data", (chunk) => {
    if (plan.markerText === undefined) {
      if ((chunk as Buffer).includes(MARKER_BYTE)) resolve(performance.now());
      return;
    }
    consoleText += (chunk as Buffer).toString("latin1");
    if (plan.stampLines)
      for (
        let nl = consoleText.indexOf("\n", lineStart);
        nl >= 0;
        nl = consoleText.indexOf("\n", lineStart)
      ) {
        stampedText += `${(performance.now() - t0).toFixed(0)}\t${consoleText.slice(lineStart, nl + 1)}`;
        lineStart = nl + 1;
      }
    if (consoleText.includes(plan.markerText)) resolve(performance.now());
  }),
);

const env: Record<string, string | undefined> = { ...process.env, CROSVM_TRACE_STARTUP: "1", ...plan.env };
delete env.BUN_BE_BUN;
const wallClock = (now: number) => performance.timeOrigin + now;
const t0 = performance.now();
const stdout = plan.markerText === undefined ? Bun.file(plan.stdout) : openSync(plan.marker, "w");
const vmm = Bun.spawn(plan.argv, { stdio: ["ignore", stdout, Bun.file(plan.stderr)], env });
const outcome = await Promise.race([
  marker.then((t) => ({ t })),
  vmm.exited.then((code) => ({ exited: code })),
  Bun.sleep(plan.timeoutMs).then(() => ({ timedOut: true })),
]);
// SIGTERM first: both VMMs then stop their vCPUs and exit cleanly. (Twice in ~30 runs the outer VM stopped
// answering right after a nested VMM was SIGKILLed mid-boot; whether that was the cause is not known.)
const exitedWithin = (ms: number) =>
  Promise.race([vmm.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
vmm.kill("SIGTERM");
if (!(await exitedWithin(10_000))) vmm.kill("SIGKILL");
const died = await exitedWithin(10_000);
if (!died) {
  const status = readFileSync(`/proc/${vmm.pid}/status`, "utf8").split("\n").slice(0, 3).join(" ");
  console.log(
    JSON.stringify({ error: `the VMM (pid ${vmm.pid}) did not die after SIGKILL: ${status}`, output: "" }),
  );
  process.exit(0);
}

if (plan.markerText !== undefined)
  writeFileSync(plan.stdout, plan.stampLines ? stampedText + consoleText.slice(lineStart) : consoleText);
const startup: Record<string, number> = {};
for (const m of readFileSync(plan.stderr, "utf8").matchAll(
  /^startup: (.+) after [\d.]+ ms \(wall clock ([\d.]+) ms\)$/gm,
))
  startup[m[1]!] = Number(m[2]) - wallClock(t0);
if ("t" in outcome) {
  console.log(JSON.stringify({ bootMs: outcome.t - t0, startup }));
} else {
  const why =
    "exited" in outcome ? `the VMM exited with ${outcome.exited}` : `no marker in ${plan.timeoutMs} ms`;
  const output =
    readFileSync(plan.stdout, "utf8").slice(-1500) + readFileSync(plan.stderr, "utf8").slice(-1500);
  console.log(JSON.stringify({ error: why, output }));
}
process.exit(0);
