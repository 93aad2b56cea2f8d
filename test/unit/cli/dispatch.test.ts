import { describe, expect, test } from "bun:test";
import { runCli } from "../../../src/cli/cli.ts";
import { defineCrosvmCommand } from "../../../src/cli/commands/command.ts";
import { capture } from "./helpers.ts";

// A control command shaped like the ones issue 3 adds (crosvm stop VM_SOCKET).
const calls: { socket: unknown; extendedStatus: boolean }[] = [];
const stop = defineCrosvmCommand({
  meta: { name: "stop", description: "Stops crosvm instances via their control sockets." },
  args: { VM_SOCKET: { type: "positional", description: "VM Socket path" } },
  run({ args, data }) {
    calls.push({ socket: args.VM_SOCKET, extendedStatus: data.extendedStatus });
    return args.VM_SOCKET === "/busy.sock" ? 3 : undefined;
  },
});
const broken = defineCrosvmCommand({
  meta: { name: "broken", description: "Fails." },
  run() {
    throw new Error("socket refused the request");
  },
});
// A command group shaped like crosvm's `disk resize DISK_INDEX NEW_SIZE VM_SOCKET`.
const resizes: { index: unknown; size: unknown; socket: unknown; extendedStatus: boolean }[] = [];
const resize = defineCrosvmCommand({
  meta: { name: "resize", description: "Resize a disk" },
  args: {
    DISK_INDEX: { type: "positional", description: "Disk index" },
    NEW_SIZE: { type: "positional", description: "New disk size" },
    VM_SOCKET: { type: "positional", description: "VM Socket path" },
  },
  run({ args, data }) {
    resizes.push({
      index: args.DISK_INDEX,
      size: args.NEW_SIZE,
      socket: args.VM_SOCKET,
      extendedStatus: data.extendedStatus,
    });
  },
});
const disk = defineCrosvmCommand({
  meta: { name: "disk", description: "Manage attached virtual disk devices" },
  subCommands: { resize },
});
const TABLE = { stop, broken, disk };

describe("control commands in the command tree", () => {
  test("a command gets its positional argument and the global options", async () => {
    calls.length = 0;
    const status = await runCli(["--extended-status", "stop", "/run/vm.sock"], TABLE, capture());
    expect([status, calls]).toEqual([0, [{ socket: "/run/vm.sock", extendedStatus: true }]]);
  });

  test("the number a command returns is the exit status", async () => {
    expect(await runCli(["stop", "/busy.sock"], TABLE, capture())).toBe(3);
  });

  test("a missing positional argument exits 35 with one line", async () => {
    const io = capture();
    const status = await runCli(["stop"], TABLE, io);
    expect([status, io.stderr]).toEqual([35, "Missing required positional argument: VM_SOCKET\n"]);
  });

  test("an error thrown by a command exits 1 with one line", async () => {
    const io = capture();
    const status = await runCli(["broken"], TABLE, io);
    expect([status, io.stderr]).toEqual([1, "crosvm: socket refused the request\n"]);
  });

  test("its help is rendered from its citty definition", async () => {
    const io = capture();
    await runCli(["stop", "--help"], TABLE, io);
    expect(io.stdout).toBe(
      "Usage: crosvm stop <VM_SOCKET>\n\nStops crosvm instances via their control sockets.\n\n" +
        "Positional Arguments:\n  VM_SOCKET         VM Socket path\n\n" +
        "Options:\n  --help, help      display usage information\n",
    );
  });

  test("crosvm help COMMAND is the command's help", async () => {
    const [a, b] = [capture(), capture()];
    await runCli(["help", "stop"], TABLE, a);
    await runCli(["stop", "-h"], TABLE, b);
    expect(a.stdout).toBe(b.stdout);
  });

  test("the root help lists the commands of the table", async () => {
    const io = capture();
    await runCli(["--help"], TABLE, io);
    expect(io.stdout).toContain(
      "Commands:\n  stop              Stops crosvm instances via their control sockets.\n  broken            Fails.\n",
    );
  });
});

describe("nested commands (crosvm disk resize)", () => {
  test("the nested command runs with its arguments and the global options", async () => {
    resizes.length = 0;
    const status = await runCli(
      ["--extended-status", "disk", "resize", "0", "1048576", "/vm.sock"],
      TABLE,
      capture(),
    );
    expect([status, resizes]).toEqual([
      0,
      [{ index: "0", size: "1048576", socket: "/vm.sock", extendedStatus: true }],
    ]);
  });

  test("a group without its subcommand exits 35 naming the choices", async () => {
    const io = capture();
    const status = await runCli(["disk"], TABLE, io);
    expect([status, io.stderr]).toEqual([35, "crosvm disk: a subcommand is required (one of: resize)\n"]);
  });

  test("an unknown subcommand exits 35", async () => {
    const io = capture();
    const status = await runCli(["disk", "shrink"], TABLE, io);
    expect([status, io.stderr]).toEqual([
      35,
      "shrink: unknown subcommand of crosvm disk (expected one of: resize)\n",
    ]);
  });

  test("the group's help lists its subcommands", async () => {
    const io = capture();
    await runCli(["disk", "--help"], TABLE, io);
    expect(io.stdout).toBe(
      "Usage: crosvm disk <command> [<args>]\n\nManage attached virtual disk devices\n\n" +
        "Options:\n  --help, help      display usage information\n\n" +
        "Commands:\n  resize            Resize a disk\n",
    );
  });

  test("the nested command's help is its own", async () => {
    const io = capture();
    await runCli(["disk", "resize", "--help"], TABLE, io);
    expect(io.stdout).toStartWith(
      "Usage: crosvm disk resize <DISK_INDEX> <NEW_SIZE> <VM_SOCKET>\n\nResize a disk\n",
    );
  });
});
