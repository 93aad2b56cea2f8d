// Tiny --bios guests that use the ACPI PM device through the CLI: entering S5 ends the VM with status 0, and the
// FADT reset register resets it (32 with --extended-status). Through dist/crosvm and, for the first, through
// `bun run src/main.ts` (launchRunners in run_cli.ts).
import { describe, expect, test } from "bun:test";
import { guestImage } from "./guest_build.ts";
import { launchRunners, runCrosvm } from "./run_cli.ts";

const runners = launchRunners();

for (const runner of runners) {
  describe.skipIf(!runner.available)(`through ${runner.name}`, () => {
    const run = async (guest: string, globals: string[] = []) =>
      runCrosvm([...globals, "run", "--bios", await guestImage(guest)], { compiled: runner.compiled });

    test("a guest writing S5 to PM1_CNT powers the VM off with status 0", async () => {
      const r = await run("poweroff", ["--extended-status"]);

      expect(r.stdout).toBe("powering off\n");
      expect(r.stderr).toContain("the guest powered off; exiting with success");
      expect(r.status).toBe(0);
    });

    // The rest only where this runner runs every test (launchRunners).
    if (!runner.everyTest) return;

    test("a guest writing 6 to the ACPI reset register resets the VM (32 with --extended-status)", async () => {
      const r = await run("acpi_reset", ["--extended-status"]);

      expect(r.stdout).toBe("rebooting\n");
      expect(r.stderr).toContain("the guest requested a reset; exiting with reset");
      expect(r.status).toBe(32);
    });

    test("--extended-status reports an i8042 reset as 32 (crosvm CommandStatus::VmReset)", async () => {
      const r = await run("hello", ["--extended-status"]);

      expect(r.stdout).toBe("hello from the guest\n");
      expect(r.status).toBe(32);
    });
  });
}
