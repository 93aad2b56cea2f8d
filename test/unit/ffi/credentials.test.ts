// Pins the capability constants and struct sizes of ffi/credentials.ts to the installed uapi headers (a C program
// prints what the compiler computes), and checks the id getters against the runtime's own view.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import * as cred from "../../../ffi/credentials.ts";
import { CC, headerValues } from "./header_values.ts";

const HEADER = "/usr/include/linux/capability.h";
/** NAME=value of what the compiler computes from the headers. */
function fromHeaders(): Map<string, number> {
  return headerValues(["linux/capability.h", "linux/prctl.h", "sys/syscall.h"], {
    LINUX_CAPABILITY_VERSION_3: "_LINUX_CAPABILITY_VERSION_3",
    CAP_SETPCAP: "CAP_SETPCAP",
    CAP_HEADER_BYTES: "sizeof(struct __user_cap_header_struct)",
    CAP_DATA_BYTES: "sizeof(struct __user_cap_data_struct)",
    SYS_CAPGET: "SYS_capget",
    SYS_CAPSET: "SYS_capset",
    PR_CAPBSET_READ: "PR_CAPBSET_READ",
    PR_CAPBSET_DROP: "PR_CAPBSET_DROP",
    PR_SET_PDEATHSIG: "PR_SET_PDEATHSIG",
    PR_GET_PDEATHSIG: "PR_GET_PDEATHSIG",
    PR_CAP_AMBIENT: "PR_CAP_AMBIENT",
    PR_CAP_AMBIENT_CLEAR_ALL: "PR_CAP_AMBIENT_CLEAR_ALL",
  });
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
