// Pins the capability constants and struct sizes of ffi/credentials.ts to the installed uapi headers (a C program
// prints what the compiler computes), and checks the id getters against the runtime's own view.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as cred from "../../../ffi/credentials.ts";

const HEADER = "/usr/include/linux/capability.h";
const CC = Bun.which("cc");

/** NAME=value lines the compiler computes from the headers. */
function fromHeaders(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "cred-layout-"));
  try {
    const src = join(dir, "c.c");
    writeFileSync(
      src,
      `#include <stdio.h>\n#include <linux/capability.h>\n#include <linux/prctl.h>\n#include <sys/syscall.h>\n` +
        `#define P(n, v) printf("%s=%llu\\n", n, (unsigned long long)(v))\n` +
        `int main(void) {\n` +
        `P("LINUX_CAPABILITY_VERSION_3", _LINUX_CAPABILITY_VERSION_3);\n` +
        `P("CAP_SETPCAP", CAP_SETPCAP);\n` +
        `P("CAP_HEADER_BYTES", sizeof(struct __user_cap_header_struct));\n` +
        `P("CAP_DATA_BYTES", sizeof(struct __user_cap_data_struct));\n` +
        `P("SYS_CAPGET", SYS_capget);\nP("SYS_CAPSET", SYS_capset);\n` +
        `P("PR_CAPBSET_READ", PR_CAPBSET_READ);\nP("PR_CAPBSET_DROP", PR_CAPBSET_DROP);\n` +
        `P("PR_SET_PDEATHSIG", PR_SET_PDEATHSIG);\nP("PR_GET_PDEATHSIG", PR_GET_PDEATHSIG);\n` +
        `P("PR_CAP_AMBIENT", PR_CAP_AMBIENT);\nP("PR_CAP_AMBIENT_CLEAR_ALL", PR_CAP_AMBIENT_CLEAR_ALL);\n` +
        `return 0;\n}\n`,
    );
    const exe = join(dir, "c");
    const cc = Bun.spawnSync([CC!, "-o", exe, src]);
    if (cc.exitCode !== 0) throw new Error(`cc failed: ${cc.stderr.toString()}`);
    const out = Bun.spawnSync([exe]).stdout.toString();
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => {
          const [k, val] = l.split("=");
          return [k!, Number(val)] as const;
        }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NAMES = [
  "LINUX_CAPABILITY_VERSION_3",
  "CAP_SETPCAP",
  "CAP_HEADER_BYTES",
  "CAP_DATA_BYTES",
  "SYS_CAPGET",
  "SYS_CAPSET",
  "PR_SET_PDEATHSIG",
  "PR_GET_PDEATHSIG",
  "PR_CAPBSET_READ",
  "PR_CAPBSET_DROP",
  "PR_CAP_AMBIENT",
  "PR_CAP_AMBIENT_CLEAR_ALL",
] as const;

describe.skipIf(!existsSync(HEADER) || !CC)(
  "capability uapi against linux/capability.h and linux/prctl.h",
  () => {
    test("every constant is the headers'", () => {
      const c = fromHeaders();

      const ours: [string, number | undefined][] = NAMES.map((n) => [n, cred[n]]);

      expect(ours).toEqual(NAMES.map((n) => [n, c.get(n)]));
    });
  },
);

describe("the calling thread's ids", () => {
  test("getresuid's three uids are the process's uid", () => {
    const uid = process.getuid!();

    expect(cred.getResUid()).toEqual([uid, uid, uid]);
  });

  test("getresgid's three gids are the process's gid", () => {
    const gid = process.getgid!();

    expect(cred.getResGid()).toEqual([gid, gid, gid]);
  });

  test("capget reads the effective set /proc reports for the thread", async () => {
    const status = await Bun.file(`/proc/thread-self/status`).text();
    const capEff = BigInt(`0x${status.match(/^CapEff:\s*([0-9a-f]+)$/m)![1]}`);

    const { data } = cred.capget();

    expect((BigInt(data[3]!) << 32n) | BigInt(data[0]!)).toBe(capEff);
  });
});
