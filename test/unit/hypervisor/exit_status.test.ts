import { expect, test } from "bun:test";
import { exitStatusFor } from "../../../src/vmm/run.ts";

test("without --extended-status every orderly VM end exits 0, as crosvm does", () => {
  expect([
    exitStatusFor("stop", false),
    exitStatusFor("reset", false),
    exitStatusFor("crash", false),
  ]).toEqual([0, 0, 0]);
});

test("--extended-status gives crosvm's CommandStatus codes: stop 0, reset 32, crash 33", () => {
  expect([exitStatusFor("stop", true), exitStatusFor("reset", true), exitStatusFor("crash", true)]).toEqual([
    0, 32, 33,
  ]);
});
