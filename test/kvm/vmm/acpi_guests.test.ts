// Tiny --bios guests that use the ACPI PM device through the CLI: entering S5 ends the VM with status 0, and the
// FADT reset register resets it (32 with --extended-status). Run through `bun run src/main.ts` and through the
// compiled `dist/crosvm` (skipped, saying so, when it is absent).
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { guestImage } from "./guest_build.ts";
import { DIST_CROSVM, runCrosvm } from "./run_cli.ts";

const runners = [
  { name: "bun run src/main.ts", compiled: false, available: true },
  { name: "dist/crosvm", compiled: true, available: existsSync(DIST_CROSVM) },
];

for (const runner of runners) {
  if (!runner.available)
    console.warn(`skipping the ${runner.name} tests: ${DIST_CROSVM} is missing (run \`bun run build\`)`);

  describe.skipIf(!runner.available)(`through ${runner.name}`, () => {
    const run = async (guest: string, globals: string[] = []) =>
      runCrosvm([...globals, "run", "--bios", await guestImage(guest)], { compiled: runner.compiled });

    test("a guest writing S5 to PM1_CNT powers the VM off with status 0", async () => {
      const r = await run("poweroff", ["--extended-status"]);

      expect(r.stdout).toBe("powering off\n");
      expect(r.stderr).toContain("the guest powered off; exiting with success");
      expect(r.status).toBe(0);
    });

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
