// A kick that reaches a thread other than a vCPU thread must not end the VMM (SIG_KICK's default action would).
import { expect, test } from "bun:test";
import { join } from "node:path";

const fixture = join(import.meta.dir, "fixtures", "stray_kick.ts");

test("a stray kick at a thread that does not block it is ignored once kicks are set up", () => {
  const r = Bun.spawnSync(["bun", fixture, "ignore"], { stdout: "pipe", stderr: "pipe" });

  expect(r.stdout.toString()).toBe("alive\n");
  expect(r.exitCode).toBe(0);
});

test("without that set-up the same kick ends the process (what the set-up prevents)", () => {
  const r = Bun.spawnSync(["bun", fixture], { stdout: "pipe", stderr: "pipe" });

  expect(r.signalCode as unknown).toBe(34); // SIGRTMIN: Bun reports real-time signals by number
});
