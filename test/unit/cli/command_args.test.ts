import { describe, expect, test } from "bun:test";
import type { ArgsDef } from "citty";
import { parseCommandArgs } from "../../../src/cli/commands/command_args.ts";
import { ArgumentError, EXIT_INVALID_ARGS } from "../../../src/cli/errors.ts";
import { crosvm } from "./helpers.ts";

const BALLOON: ArgsDef = {
  SIZE: { type: "positional", description: "amount of bytes", required: true },
  VM_SOCKET: { type: "positional", description: "VM Socket path", required: true },
  wait: { type: "boolean", description: "wait for response", default: false },
};

const parse = (raw: string[]) => parseCommandArgs("crosvm balloon", BALLOON, raw) as Record<string, unknown>;

function failure(args: ArgsDef, raw: string[]): { message: string; exitCode: number } {
  try {
    parseCommandArgs("crosvm balloon", args, raw);
  } catch (e) {
    if (e instanceof ArgumentError) return { message: e.message, exitCode: e.exitCode };
    throw e;
  }
  throw new Error(`${raw.join(" ")} was accepted`);
}

describe("parsing a command's arguments strictly", () => {
  test("positional arguments and a switch land under their names", () => {
    expect(parse(["--wait", "4096", "/vm.sock"])).toMatchObject({
      SIZE: "4096",
      VM_SOCKET: "/vm.sock",
      wait: true,
    });
  });

  test("a switch not given takes its default", () => {
    expect(parse(["1", "/s"]).wait).toBe(false);
  });

  test("a negative number is a value while a positional argument is expected", () => {
    expect(parse(["-5", "/s"]).SIZE).toBe("-5");
  });

  test("an argument after -- is a value even if it starts with -", () => {
    expect(parse(["1", "--", "-s.sock"]).VM_SOCKET).toBe("-s.sock");
  });

  test("an unknown option is refused with the known ones (exit 35)", () => {
    expect(failure(BALLOON, ["--waitt", "1", "/s"])).toEqual({
      message:
        "crosvm balloon: unknown option --waitt (expected one of: --wait) (usage: crosvm balloon <SIZE> <VM_SOCKET> [--wait])",
      exitCode: EXIT_INVALID_ARGS,
    });
  });

  test("an option of a command without options is refused", () => {
    expect(failure({}, ["--bogus"]).message).toBe(
      "crosvm balloon: unknown option --bogus (it takes none) (usage: crosvm balloon)",
    );
  });

  test("an extra argument is refused", () => {
    expect(failure(BALLOON, ["1", "/s", "extra"]).message).toBe(
      'crosvm balloon: unexpected argument "extra" (usage: crosvm balloon <SIZE> <VM_SOCKET> [--wait])',
    );
  });

  test("a negative number after the last positional argument is an unknown option", () => {
    expect(failure(BALLOON, ["1", "/s", "-5"]).message).toStartWith("crosvm balloon: unknown option -5 ");
  });

  test("a switch given a value is refused", () => {
    expect(failure(BALLOON, ["--wait=yes", "1", "/s"]).message).toStartWith(
      'crosvm balloon: --wait takes no value, got "yes"',
    );
  });

  test("a switch given twice is refused", () => {
    expect(failure(BALLOON, ["--wait", "--wait", "1", "/s"]).message).toStartWith(
      "crosvm balloon: --wait is given more than once",
    );
  });

  test("a missing positional argument is named", () => {
    expect(failure(BALLOON, ["1"]).message).toBe("Missing required positional argument: VM_SOCKET");
  });
});

describe("the control commands and version refuse what they do not take, in one line", () => {
  test("crosvm suspend --fulll S", async () => {
    expect(await crosvm("suspend", "--fulll", "S")).toEqual({
      status: 35,
      stdout: "",
      stderr:
        "crosvm suspend: unknown option --fulll (expected one of: --full) (usage: crosvm suspend <VM_SOCKET> [--full])\n",
    });
  });

  test("crosvm stop --bogus S", async () => {
    expect(await crosvm("stop", "--bogus", "S")).toEqual({
      status: 35,
      stdout: "",
      stderr: "crosvm stop: unknown option --bogus (it takes none) (usage: crosvm stop <VM_SOCKET>)\n",
    });
  });

  test("crosvm version extra", async () => {
    expect(await crosvm("version", "extra")).toEqual({
      status: 35,
      stdout: "",
      stderr: 'crosvm version: unexpected argument "extra" (usage: crosvm version)\n',
    });
  });

  test("crosvm balloon -5 S names SIZE", async () => {
    expect(await crosvm("balloon", "-5", "S")).toEqual({
      status: 35,
      stdout: "",
      stderr: 'crosvm balloon: SIZE: expected a non-negative integer, got "-5"\n',
    });
  });

  test("crosvm disk resize 0 -1 S names NEW_SIZE", async () => {
    expect(await crosvm("disk", "resize", "0", "-1", "S")).toEqual({
      status: 35,
      stdout: "",
      stderr: 'crosvm disk resize: NEW_SIZE: expected a non-negative integer, got "-1"\n',
    });
  });

  test("crosvm powerbtn S extra", async () => {
    const { status, stderr } = await crosvm("powerbtn", "S", "extra");
    expect([status, stderr]).toEqual([
      35,
      'crosvm powerbtn: unexpected argument "extra" (usage: crosvm powerbtn <VM_SOCKET>)\n',
    ]);
  });
});
