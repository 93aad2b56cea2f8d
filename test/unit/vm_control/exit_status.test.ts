import { describe, expect, test } from "bun:test";
import {
  CommandStatus,
  commandStatusFor,
  ERROR_EXIT_CODE,
  exitCodeFor,
} from "../../../src/vm_control/exit_status.ts";

describe("crosvm exit status", () => {
  test("CommandStatus has crosvm's numbers (src/main.rs)", () => {
    expect(CommandStatus).toEqual({
      SuccessOrVmStop: 0,
      VmReset: 32,
      VmCrash: 33,
      GuestPanic: 34,
      InvalidArgs: 35,
      WatchdogReset: 36,
    });
  });

  test("a failed command exits with 1, as error_to_exit_code on Linux", () => {
    expect(ERROR_EXIT_CODE).toBe(1);
  });

  test("every VM end exits with 0 without --extended-status", () => {
    for (const state of ["Stop", "Reset", "Crash", "GuestPanic", "WatchdogReset"] as const) {
      expect(exitCodeFor(state, false)).toBe(0);
    }
  });

  test("--extended-status maps reset, crash and guest panic to 32, 33 and 34", () => {
    expect([exitCodeFor("Reset", true), exitCodeFor("Crash", true), exitCodeFor("GuestPanic", true)]).toEqual(
      [32, 33, 34],
    );
  });

  test("a stop exits with 0 even with --extended-status", () => {
    expect(exitCodeFor("Stop", true)).toBe(0);
  });

  test("a watchdog reset maps to WatchdogReset", () => {
    expect(commandStatusFor("WatchdogReset")).toBe("WatchdogReset");
  });
});
