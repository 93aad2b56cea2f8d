import { expect, test } from "bun:test";
import { deathMessage, describeExit, seccompSyscallFromLog } from "../../../src/jail/device_process/death.ts";

const RECORD = (pid: number, nr: number) =>
  `6,901,1053008433,-;audit: type=1326 audit(1795738779.107:55): auid=4294967295 uid=0 gid=0 ` +
  `ses=4294967295 pid=${pid} comm="bun" exe="/usr/bin/bun" sig=31 arch=c000003e syscall=${nr} compat=0 ` +
  `ip=0x7f23efdd1829 code=0x80000000\n`;

test("the syscall comes from the seccomp audit record of that pid", () => {
  const log = RECORD(100, 2) + RECORD(1234, 83) + RECORD(12345, 59);

  expect(seccompSyscallFromLog(log, 1234)).toBe(83);
});

test("no audit record for the pid gives no syscall", () => {
  expect(seccompSyscallFromLog(RECORD(12345, 83), 1234)).toBeUndefined();
});

test("a plain exit is described by its status", async () => {
  expect(await describeExit(1, { exitCode: 3, signalCode: null })).toBe("exited with status 3");
});

test("a kill by another signal names the signal", async () => {
  expect(await describeExit(1, { exitCode: null, signalCode: "SIGKILL" })).toBe("killed by SIGKILL");
});

test("the death message names device, pid and cause", () => {
  expect(deathMessage("virtio-blk", 1234, "killed by SIGKILL")).toBe(
    "device virtio-blk (pid 1234) died: killed by SIGKILL",
  );
});
