// Runs inside the outer rig VM (as `BUN_BE_BUN=1 crosvm pss.ts ROOT_PID GUEST_RAM_KIB crosvm|qemu`): the PSS of the VMM
// process ROOT_PID and all its descendants (crosvm's device processes and their unshare(1) parents), each with
// the part that is guest RAM. Prints one JSON line: {"processes":[{pid,comm,role,pssKiB,..,guestRamPssKiB}, ...]}.
//   role            "vmm" (ROOT_PID), "device KIND" (crosvm device-process KIND), "unshare", else the comm
//   pssKiB          "Pss:" of /proc/PID/smaps_rollup (all mappings of the process)
//   guestRamPssKiB  "Pss:" summed over the guest-RAM mappings in /proc/PID/smaps: crosvm's memfd
//                   ("/memfd:crosvm_guest (deleted)", mapped by the VMM and by every device process); QEMU's RAM
//                   block, an anonymous mapping of GUEST_RAM_KIB (up to 2 MiB more for alignment).
import { readdirSync, readFileSync } from "node:fs";

const root = Number(process.argv[2]);
const guestRamKiB = Number(process.argv[3]);
const vmm = process.argv[4];
if (vmm !== "crosvm" && vmm !== "qemu") throw new Error(`VMM ${vmm}: expected crosvm or qemu`);

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function descendants(of: number): number[] {
  const pids = readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  const children = new Map<number, number[]>();
  for (const pid of pids) {
    const ppid = parentOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(of);
  return out;
}

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** Sums "Pss:" over the mappings of /proc/PID/smaps that hold guest RAM. */
function guestRamPss(smaps: string): number {
  let total = 0;
  let isGuestRam = false;
  let anonymous = false;
  for (const line of smaps.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1] ?? "";
      anonymous = name === "";
      isGuestRam = vmm === "crosvm" && name.startsWith("/memfd:crosvm_guest");
      continue;
    }
    const size = /^Size:\s+(\d+) kB/.exec(line);
    if (size && vmm === "qemu" && anonymous) {
      const kib = Number(size[1]);
      isGuestRam = kib >= guestRamKiB && kib <= guestRamKiB + 2048;
    }
    const pss = /^Pss:\s+(\d+) kB/.exec(line);
    if (pss && isGuestRam) total += Number(pss[1]);
  }
  return total;
}

/** What the process is to the VMM: "vmm", "device KIND" (a crosvm device process), or its comm. */
function roleOf(pid: number, comm: string): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  if (comm === "unshare") return "unshare";
  const at = argv.indexOf("device-process");
  if (at >= 0) return `device ${argv[at + 1] ?? "?"}`;
  return pid === root ? "vmm" : comm;
}

const processes = descendants(root).map((pid) => {
  const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return {
    pid,
    comm,
    role: roleOf(pid, comm),
    pssKiB: field(rollup, "Pss"),
    // Where the PSS lies: anonymous memory (heaps), file pages (the executable, libraries), shared memory.
    pssAnonKiB: field(rollup, "Pss_Anon"),
    pssFileKiB: field(rollup, "Pss_File"),
    pssShmemKiB: field(rollup, "Pss_Shmem"),
    guestRamPssKiB: guestRamPss(readFileSync(`/proc/${pid}/smaps`, "utf8")),
  };
});
console.log(JSON.stringify({ processes }));
