import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { controlCommands } from "../../../src/cli/control/index.ts";
import type { VmRequest } from "../../../src/vm_control/protocol.ts";
import { ControlServer } from "../../../src/vm_control/server.ts";
import { FakeVm, tempDir } from "./fake_vm.ts";

const RUNNER = join(import.meta.dir, "control_cli_runner.ts");

/** Runs `crosvm <args>` for a control command in a subprocess; the server in this process keeps serving. */
async function crosvm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, RUNNER, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

describe("control subcommands", () => {
  let tmp: { dir: string; cleanup: () => void };
  let vm: FakeVm;
  let server: ControlServer;
  let missing: string;

  beforeAll(() => {
    tmp = tempDir();
    vm = new FakeVm();
    server = ControlServer.listen(join(tmp.dir, "vm.sock"), vm);
    missing = join(tmp.dir, "nothing.sock");
  });

  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });

  const lastRequest = (): VmRequest | undefined => vm.requests.at(-1);

  test("the record holds every control command under its crosvm name", () => {
    expect(Object.keys(controlCommands).sort()).toEqual(
      ["balloon", "balloon_stats", "disk", "powerbtn", "resume", "stop", "suspend", "virtio-net"].sort(),
    );
  });

  test("stop sends Exit and exits 0 silently", async () => {
    vm.answer = { kind: "Ok" };

    const out = await crosvm("stop", server.path);

    expect(out).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(lastRequest()).toEqual({ kind: "Exit" });
  });

  test("stop with no VM at the path exits 1 with one clear line", async () => {
    const out = await crosvm("stop", missing);

    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`crosvm stop: no VM at ${missing} (no such file or directory)\n`);
  });

  test("suspend --full sends SuspendVm", async () => {
    const out = await crosvm("suspend", server.path, "--full");

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({ kind: "SuspendVm" });
  });

  test("resume without --full sends ResumeVcpus", async () => {
    const out = await crosvm("resume", server.path);

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({ kind: "ResumeVcpus" });
  });

  test("powerbtn sends Powerbtn", async () => {
    const out = await crosvm("powerbtn", server.path);

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({ kind: "Powerbtn" });
  });

  test("disk resize sends the index and size in bytes", async () => {
    const out = await crosvm("disk", "resize", "1", "2147483648", server.path);

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({
      kind: "DiskCommand",
      diskIndex: 1,
      command: { kind: "Resize", newSize: 2147483648 },
    });
  });

  test("balloon sends Adjust with the size in bytes", async () => {
    const out = await crosvm("balloon", "1048576", server.path);

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({
      kind: "BalloonCommand",
      command: { kind: "Adjust", numBytes: 1048576, waitForSuccess: false },
    });
  });

  test("balloon refuses a size with a unit suffix as an invalid argument (35)", async () => {
    const out = await crosvm("balloon", "1G", server.path);

    expect(out.code).toBe(35);
    expect(out.stderr).toBe('crosvm balloon: SIZE: expected a non-negative integer, got "1G"\n');
  });

  test("balloon reports the VM's refusal and exits 1", async () => {
    vm.answer = { kind: "ErrString", message: "no balloon device" };

    const out = await crosvm("balloon", "4096", server.path);
    vm.answer = { kind: "Ok" };

    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `crosvm balloon: the VM at ${server.path} answered BalloonCommand with an error: no balloon device\n`,
    );
  });

  test("virtio-net add sends AddTap and prints the bus in the book's words", async () => {
    vm.answer = { kind: "PciHotPlugResponse", bus: 3 };

    const out = await crosvm("virtio-net", "add", "crosvm_tap", server.path);
    vm.answer = { kind: "Ok" };

    expect([out.code, out.stdout]).toEqual([0, "Tap device crosvm_tap plugged to PCI bus 3\n"]);
    expect(lastRequest()).toEqual({
      kind: "HotPlugNetCommand",
      command: { kind: "AddTap", tapName: "crosvm_tap" },
    });
  });

  test("virtio-net remove sends RemoveTap with the bus", async () => {
    const out = await crosvm("virtio-net", "remove", "3", server.path);

    expect(out.code).toBe(0);
    expect(lastRequest()).toEqual({ kind: "HotPlugNetCommand", command: { kind: "RemoveTap", bus: 3 } });
  });

  test("virtio-net remove refuses a bus above 255 as an invalid argument (35)", async () => {
    const out = await crosvm("virtio-net", "remove", "256", server.path);

    expect([out.code, out.stderr]).toEqual([
      35,
      "crosvm virtio-net remove: BUS: expected a PCI bus number from 0 to 255, got 256\n",
    ]);
  });

  test("balloon_stats prints the response as crosvm's pretty JSON", async () => {
    const stats = {
      swapIn: 0,
      swapOut: 0,
      majorFaults: 1,
      minorFaults: 2,
      freeMemory: 3,
      totalMemory: 4,
      availableMemory: 5,
      diskCaches: 6,
      hugetlbAllocations: null,
      hugetlbFailures: null,
      sharedMemory: 7,
      unevictableMemory: 8,
    };
    vm.answer = { kind: "BalloonStats", stats, balloonActual: 9 };

    const out = await crosvm("balloon_stats", server.path);
    vm.answer = { kind: "Ok" };

    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      BalloonStats: {
        stats: {
          swap_in: 0,
          swap_out: 0,
          major_faults: 1,
          minor_faults: 2,
          free_memory: 3,
          total_memory: 4,
          available_memory: 5,
          disk_caches: 6,
          hugetlb_allocations: null,
          hugetlb_failures: null,
          shared_memory: 7,
          unevictable_memory: 8,
        },
        balloon_actual: 9,
      },
    });
    expect(out.stdout).toStartWith('{\n  "BalloonStats": {\n');
  });

  test("disk with an unknown subcommand exits 35", async () => {
    const out = await crosvm("disk", "grow", "0", "1", server.path);

    expect(out.code).toBe(35);
    expect(out.stderr).toBe("grow: unknown subcommand of crosvm disk (expected one of: resize)\n");
  });

  test("an extra positional argument is refused with 35", async () => {
    const out = await crosvm("stop", server.path, "another.sock");

    expect(out.code).toBe(35);
  });

  test("a missing socket argument exits 35 naming it", async () => {
    const out = await crosvm("powerbtn");

    expect([out.code, out.stderr]).toEqual([35, "Missing required positional argument: VM_SOCKET\n"]);
  });
});
