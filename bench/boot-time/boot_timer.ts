// Runs inside the outer rig VM (as `BUN_BE_BUN=1 crosvm boot_timer.ts PLAN.json`, the compiled crosvm acting as
// bun): times one nested VMM from its exec to the first byte the guest's /init writes to the debugcon port
// (the byte 0xFF: scripts/guest/rootfs/init, boot_marker=1), which the VMM writes into a FIFO this process holds open.
// Prints one JSON line: {"bootMs":..,"startup":{"<phase>":<ms after exec>,..}}. With CROSVM_TRACE_STARTUP=1
// crosvm prints its setup phases on stderr with wall-clock stamps (src/vmm/startup_trace.ts); QEMU prints none.
import {
  closeSync,
  createReadStream,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";

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
  /**
   * With markerText, after the marker (the time is taken by then): wait for `prompt` on the console (a shell the
   * getty logged in), type `command`, and keep the console from there to `endText` in `path`. The VMM's stdin is
   * then a pipe (the console's input).
   */
  report?: { prompt: string; command: string; endText: string; path: string; timeoutMs: number };
}

/** USER_HZ, the unit of /proc/PID/stat times on x86-64 (sysconf(_SC_CLK_TCK)). */
const TICKS_PER_S = 100;

/** proc(5) stat fields after the ") " that ends the command name: utime 14, stime 15, guest_time 43. */
function statTimes(path: string): { user: number; sys: number; guest: number } | undefined {
  try {
    const f = readFileSync(path, "utf8")
      .replace(/^.*\) /s, "")
      .split(" ");
    return {
      user: Number(f[11]) / TICKS_PER_S,
      sys: Number(f[12]) / TICKS_PER_S,
      guest: Number(f[40]) / TICKS_PER_S,
    };
  } catch {
    return undefined; // the thread or process ended meanwhile
  }
}

/** The pids of `root` and its descendants (device processes), from /proc/PID/stat's ppid (field 4). */
function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const p of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(
        readFileSync(`/proc/${p}/stat`, "utf8")
          .replace(/^.*\) /s, "")
          .split(" ")[1],
      );
      parent.set(Number(p), ppid);
    } catch {}
  }
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 64; hops++) {
      if (at === root) return true;
      at = parent.get(at);
    }
    return false;
  };
  return [...parent.keys()].filter(inTree);
}

/** A process's name for the report: its command line's first three words, without the path. */
function processLabel(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return argv
      .slice(0, 3)
      .map((a) => a.split("/").at(-1)!.slice(0, 24))
      .join(" ");
  } catch {
    return String(pid);
  }
}

/**
 * The VMM's CPU time so far, split into its vCPU thread (the thread with guest time: guest = running the guest,
 * sys = the host kernel handling its exits and nested page faults, user - guest = answering exits in user space)
 * and everything else (its other threads, and its child processes: device processes), with the seconds of each
 * process; and its memory (smaps_rollup of the VMM process: Rss, and what of it is mapped by 2 MiB pages).
 */
function vmmUsage(pid: number) {
  let vcpu = { user: 0, sys: 0, guest: 0 };
  const other = { user: 0, sys: 0 };
  const processes: { label: string; cpuS: number }[] = [];
  for (const p of processTree(pid)) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {}
    let cpuS = 0;
    for (const tid of tasks) {
      const t = statTimes(`/proc/${p}/task/${tid}/stat`);
      if (!t) continue;
      if (t.guest > 0) {
        // A vCPU thread (one here: the benchmark runs one vCPU).
        vcpu = { user: vcpu.user + t.user, sys: vcpu.sys + t.sys, guest: vcpu.guest + t.guest };
        continue;
      }
      other.user += t.user;
      other.sys += t.sys;
      cpuS += t.user + t.sys;
    }
    processes.push({ label: processLabel(p), cpuS });
  }
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
  return {
    vcpu: { guestS: vcpu.guest, exitsUserS: vcpu.user - vcpu.guest, exitsKernelS: vcpu.sys },
    otherS: other.user + other.sys,
    processes,
    rssMiB: kib("Rss") / 1024,
    hugeMiB: (kib("AnonHugePages") + kib("ShmemPmdMapped")) / 1024,
    ramMap: guestRamMap(pid),
  };
}

/** pagemap(5): bit 63 of a page's 64-bit entry says the page is present in the process's page table. */
const PAGEMAP_PRESENT = 1n << 63n;
const PAGE = 4096;
const RANGE = 2 * 1024 * 1024;

/**
 * One character per 2 MiB of guest RAM as the VMM maps it (crosvm's memfd "crosvm_guest", from /proc/PID/maps):
 * how many of its 4 KiB pages are present in the VMM's page table (KVM faults in what the guest touched there),
 * "." none, "1".."9" up to that many tenths, "#" all; a space between regions. Undefined for a VMM without it.
 */
export function guestRamMap(pid: number): string | undefined {
  const regions = readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .filter((l) => l.includes("/memfd:crosvm_guest"))
    .map(
      (l) =>
        l
          .split(" ")[0]!
          .split("-")
          .map((h) => Number.parseInt(h, 16)) as [number, number],
    );
  if (regions.length === 0) return undefined;
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  try {
    return regions
      .map(([start, end]) => {
        const entries = Buffer.alloc(((end - start) / PAGE) * 8);
        readSync(fd, entries, 0, entries.length, (start / PAGE) * 8);
        let line = "";
        for (let at = 0; at < entries.length; at += (RANGE / PAGE) * 8) {
          let present = 0;
          for (let e = at; e < Math.min(at + (RANGE / PAGE) * 8, entries.length); e += 8)
            if (entries.readBigUInt64LE(e) & PAGEMAP_PRESENT) present++;
          const tenths = Math.ceil((present * 10) / (RANGE / PAGE));
          line += present === 0 ? "." : present === RANGE / PAGE ? "#" : String(Math.min(tenths, 9));
        }
        return line;
      })
      .join(" ");
  } finally {
    closeSync(fd);
  }
}

/** Resolves once `text` is on the console after `from`, or after `ms` (false). */
async function consoleShows(text: string, from: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (consoleText.indexOf(text, from) >= 0) return true;
    await Bun.sleep(100);
  }
  return false;
}

/** plan.report: types the command at the shell prompt and keeps its output. */
async function typeReport(r: NonNullable<Plan["report"]>): Promise<void> {
  const stdin = vmm.stdin as import("bun").FileSink;
  const from = consoleText.length - (plan.markerText?.length ?? 0);
  if (!(await consoleShows(r.prompt, from, r.timeoutMs))) {
    writeFileSync(r.path, `no prompt ${JSON.stringify(r.prompt)} within ${r.timeoutMs} ms\n`);
    return;
  }
  const start = consoleText.length;
  stdin.write(`${r.command}\n`);
  await stdin.flush();
  const done = await consoleShows(r.endText, start, r.timeoutMs);
  writeFileSync(
    r.path,
    consoleText.slice(start) + (done ? "" : `\n(no ${r.endText} within ${r.timeoutMs} ms)\n`),
  );
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
const report = plan.markerText !== undefined ? plan.report : undefined;
const vmm = Bun.spawn(plan.argv, { stdio: [report ? "pipe" : "ignore", stdout, Bun.file(plan.stderr)], env });
/**
 * Each process's CPU when crosvm's startup trace says its vCPU threads are ready (just before the first KVM_RUN):
 * what its start-up cost, apart from the boot's requests. Polled from its stderr; undefined for QEMU.
 */
let atFirstRun: { label: string; cpuS: number }[] | undefined;
let vmmEnded = false;
void (async () => {
  while (atFirstRun === undefined && !vmmEnded) {
    await Bun.sleep(100);
    try {
      if (readFileSync(plan.stderr, "utf8").includes("startup: vCPU threads ready"))
        atFirstRun = vmmUsage(vmm.pid).processes;
    } catch {
      // the VMM ended meanwhile
    }
  }
})();
const outcome = await Promise.race([
  marker.then((t) => ({ t })),
  vmm.exited.then((code) => ({ exited: code })),
  Bun.sleep(plan.timeoutMs).then(() => ({ timedOut: true })),
]);
// SIGTERM first: both VMMs then stop their vCPUs and exit cleanly. (Twice in ~30 runs the outer VM stopped
// answering right after a nested VMM was SIGKILLed mid-boot; whether that was the cause is not known.)
const exitedWithin = (ms: number) =>
  Promise.race([vmm.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
// Where the VMM's CPU went and how much memory it holds, read before it is stopped (the same for both VMMs).
const usage = "t" in outcome ? { ...vmmUsage(vmm.pid), atFirstRun } : undefined;
vmmEnded = true;
if ("t" in outcome && report) await typeReport(report);
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
  // ram_collapse.ts's summary, printed when the collapser stopped (at the latest when the VMM ended).
  const collapse = /^collapse: (.+)$/m.exec(readFileSync(plan.stderr, "utf8"))?.[1];
  console.log(JSON.stringify({ bootMs: outcome.t - t0, startup, usage, collapse }));
} else {
  const why =
    "exited" in outcome ? `the VMM exited with ${outcome.exited}` : `no marker in ${plan.timeoutMs} ms`;
  const output =
    readFileSync(plan.stdout, "utf8").slice(-1500) + readFileSync(plan.stderr, "utf8").slice(-1500);
  console.log(JSON.stringify({ error: why, output }));
}
process.exit(0);
