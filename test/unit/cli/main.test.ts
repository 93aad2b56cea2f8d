import { describe, expect, test } from "bun:test";
import pkg from "../../../package.json" with { type: "json" };
import { formsOf } from "../../../src/cli/option_table.ts";
import { RUN_OPTIONS } from "../../../src/cli/run_options.ts";
import { crosvm } from "./helpers.ts";

describe("crosvm --help", () => {
  test("prints the usage, the global options and the commands, and exits 0", async () => {
    const { status, stdout } = await crosvm("--help");
    expect(status).toBe(0);
    expect(stdout).toStartWith(
      "Usage: crosvm [--extended-status] [--log-level <log-level>] <command> [<args>]\n",
    );
    expect(stdout).toContain("  --extended-status use extended exit status\n");
    expect(stdout).toContain(
      '  --log-level       specify log level, eg "off", "error", "debug,disk=off", etc\n',
    );
    expect(stdout).toContain("Commands:\n  balloon ");
    expect(stdout).toContain("\n  run               Start a new crosvm instance\n");
    expect(stdout).toContain("\n  stop              Stops crosvm instances via their control sockets\n");
    expect(stdout).toContain("\n  version           Show package version.\n");
  });

  test("crosvm with no command prints the usage on stderr and exits 35", async () => {
    const { status, stderr } = await crosvm();
    expect(status).toBe(35);
    expect(stderr).toStartWith("Usage: crosvm");
    expect(stderr).toEndWith("crosvm: a command is required\n");
  });
});

describe("crosvm run --help", () => {
  test("exits 0 with crosvm's usage line", async () => {
    const { status, stdout } = await crosvm("run", "--help");
    expect(status).toBe(0);
    expect(stdout).toStartWith("Usage: crosvm run <options> KERNEL\n\nStart a new crosvm instance\n");
  });

  test("lists every option with its short form", async () => {
    const { stdout } = await crosvm("run", "--help");
    for (const o of formsOf(RUN_OPTIONS)) {
      const names = o.short === undefined ? `  --${o.long}` : `  -${o.short}, --${o.long}`;
      expect(stdout).toMatch(new RegExp(`\\n${names}[ \\n]`));
    }
  });

  test("lists the keys of --block as the spec shows them", async () => {
    const { stdout } = await crosvm("run", "--help");
    expect(stdout).toContain(
      "  -b, --block       parameters for setting up a block device.\n" +
        "                    Valid keys:\n" +
        "                        path=PATH - Path to the disk image. Can be specified\n" +
        "                            without the key as the first argument.\n",
    );
  });

  test("lists the keys of --serial", async () => {
    const { stdout } = await crosvm("run", "--help");
    for (const key of [
      "type=",
      "hardware=",
      "num=",
      "debugcon-port=",
      "path=",
      "input=",
      "console",
      "earlycon",
      "stdin",
    ])
      expect(stdout).toContain(`                        ${key}`);
  });

  test("-h works like --help", async () => {
    const [help, h] = await Promise.all([crosvm("run", "--help"), crosvm("run", "-h")]);
    expect(h.stdout).toBe(help.stdout);
  });
});

describe("crosvm version", () => {
  test("prints crosvm and the package version", async () => {
    const { status, stdout } = await crosvm("version");
    expect([status, stdout]).toEqual([0, `crosvm ${pkg.version}\n`]);
  });

  test("version --help describes the command", async () => {
    const { status, stdout } = await crosvm("version", "--help");
    expect(status).toBe(0);
    expect(stdout).toStartWith("Usage: crosvm version\n\nShow package version.\n");
  });
});

describe("errors are one line on stderr", () => {
  test("a bad --block key exits 35", async () => {
    const { status, stdout, stderr } = await crosvm("run", "--block", "/d.img,block-size=1000", "bzImage");
    expect([status, stdout, stderr]).toEqual([
      35,
      "",
      '--block: key "block-size" expects a power of two >= 512, got "1000"\n',
    ]);
  });

  test("a bad option exits 35 with --extended-status too", async () => {
    const { status, stderr } = await crosvm("--extended-status", "run", "--frob", "bzImage");
    expect([status, stderr]).toEqual([35, "--frob: unknown option for crosvm run (see crosvm run --help)\n"]);
  });

  test("an inconsistent configuration exits 1", async () => {
    const { status, stderr } = await crosvm("run", "-b", "a,root", "-b", "b,root", "bzImage");
    expect([status, stderr]).toEqual([1, "--block: only one root disk can be specified\n"]);
  });

  test("an unknown command exits 35", async () => {
    const { status, stderr } = await crosvm("frobnicate");
    expect([status, stderr]).toEqual([35, "frobnicate: unknown command (see crosvm --help)\n"]);
  });

  test("an unknown global option exits 35", async () => {
    const { status, stderr } = await crosvm("--frob", "version");
    expect([status, stderr]).toEqual([35, "--frob: unknown option for crosvm (see crosvm --help)\n"]);
  });
});

describe("--log-level", () => {
  test("a valid spec is accepted before the command", async () => {
    const { status, stdout } = await crosvm("--log-level=devices::serial=debug,warn", "version");
    expect([status, stdout]).toEqual([0, `crosvm ${pkg.version}\n`]);
  });

  test("an unknown level is one line naming the option and exits 1", async () => {
    const { status, stderr } = await crosvm("--log-level", "loud", "version");
    expect([status, stderr]).toEqual([
      1,
      '--log-level: "loud" is not a log level (expected one of off, error, warn, info, debug, trace)\n',
    ]);
  });

  test("an empty module name is refused", async () => {
    const { status, stderr } = await crosvm("--log-level", "=debug", "version");
    expect([status, stderr]).toEqual([1, '--log-level: "=debug" has an empty module name\n']);
  });

  test("a missing value is an argument error", async () => {
    const { status, stderr } = await crosvm("--log-level");
    expect([status, stderr]).toEqual([35, "--log-level: missing value (expected log-level)\n"]);
  });

  test("--log-level after run is a run option error", async () => {
    const { status, stderr } = await crosvm("run", "--log-level", "debug", "bzImage");
    expect([status, stderr]).toEqual([
      35,
      "--log-level: unknown option for crosvm run (see crosvm run --help)\n",
    ]);
  });
});
