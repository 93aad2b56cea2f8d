// The balloon's options of `crosvm run` (crosvm cmdline.rs RunCommand, config.rs validate_config, linux.rs
// --init-mem): on by default, and the rules across them refused with one line naming the option.
import { expect, test } from "bun:test";
import { runConfig as config, runRefusal } from "./helpers.ts";

test("the balloon is on by default, without page reporting, starting deflated", () => {
  const c = config("bzImage");

  expect([c.balloon, c.balloonPageReporting, c.balloonBiasMib, c.initMemMib]).toEqual([
    true,
    false,
    0,
    undefined,
  ]);
});

test("--no-balloon removes it", () => {
  expect(config("--no-balloon", "bzImage").balloon).toBe(false);
});

test("--balloon-page-reporting without the balloon is refused", () => {
  expect(failure("--no-balloon", "--balloon-page-reporting", "bzImage")).toBe(
    "--balloon-page-reporting: page reporting requires the balloon (drop --no-balloon)",
  );
});

test("--init-mem above --mem is refused with both sizes", () => {
  expect(failure("--mem", "512", "--init-mem", "1024", "bzImage")).toBe(
    "--init-mem: initial memory 1024 MiB cannot be greater than total memory 512 MiB",
  );
});

test("--init-mem equal to --mem is accepted (an empty initial balloon)", () => {
  expect(config("--mem", "512", "--init-mem", "512", "bzImage").initMemMib).toBe(512);
});

test("--balloon-bias-mib takes a negative number of MiB as crosvm's i64 does", () => {
  expect(config("--balloon-bias-mib=-64", "bzImage").balloonBiasMib).toBe(-64);
});

test("--init-mem refuses a value that is not an integer, naming it", () => {
  expect(failure("--init-mem", "1.5G", "bzImage")).toBe(
    '--init-mem: expected an integer from 0 to 9007199254740991, got "1.5G"',
  );
});

/** The one line `crosvm run ARGV` is refused with. */
function failure(...argv: string[]): string {
  return runRefusal(...argv).message;
}
