import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as libc from "../../../ffi/libc.ts";
import {
  balloonAdjust,
  balloonStats,
  ControlClientError,
  hotplugNetAdd,
  hotplugNetRemove,
  powerButton,
  resizeDisk,
  resumeVm,
  sendRequest,
  stopVm,
  suspendVm,
} from "../../../src/vm_control/client.ts";
import type { BalloonStats } from "../../../src/vm_control/protocol.ts";
import { acceptSeqpacket, newSeqpacketSocket, recvPacket } from "../../../src/vm_control/seqpacket.ts";
import { ControlServer } from "../../../src/vm_control/server.ts";
import { FakeVm, tempDir } from "./fake_vm.ts";

const STATS: BalloonStats = {
  swapIn: 1,
  swapOut: 2,
  majorFaults: 3,
  minorFaults: 4,
  freeMemory: 5,
  totalMemory: 6,
  availableMemory: 7,
  diskCaches: 8,
  hugetlbAllocations: 9,
  hugetlbFailures: 10,
  sharedMemory: 11,
  unevictableMemory: null,
};

async function rejection(promise: Promise<unknown>): Promise<ControlClientError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ControlClientError) return e;
    throw e;
  }
  throw new Error("expected a ControlClientError");
}

describe("control client against a ControlServer", () => {
  let tmp: { dir: string; cleanup: () => void };
  let vm: FakeVm;
  let server: ControlServer;

  beforeEach(() => {
    tmp = tempDir();
    vm = new FakeVm();
    server = ControlServer.listen(join(tmp.dir, "vm.sock"), vm, { closeTimeoutMs: 50 });
  });

  afterEach(async () => {
    await server.close();
    tmp.cleanup();
  });

  test("stopVm sends Exit", async () => {
    await stopVm(server.path);

    expect(vm.requests).toEqual([{ kind: "Exit" }]);
  });

  test("suspendVm sends SuspendVcpus, and SuspendVm with full", async () => {
    await suspendVm(server.path);
    await suspendVm(server.path, { full: true });

    expect(vm.requests.map((r) => r.kind)).toEqual(["SuspendVcpus", "SuspendVm"]);
  });

  test("resumeVm sends ResumeVcpus, and ResumeVm with full", async () => {
    await resumeVm(server.path);
    await resumeVm(server.path, { full: true });

    expect(vm.requests.map((r) => r.kind)).toEqual(["ResumeVcpus", "ResumeVm"]);
  });

  test("powerButton sends Powerbtn", async () => {
    await powerButton(server.path);

    expect(vm.requests).toEqual([{ kind: "Powerbtn" }]);
  });

  test("resizeDisk sends a DiskCommand with the index and size", async () => {
    await resizeDisk(server.path, 2, 1 << 30);

    expect(vm.requests).toEqual([
      { kind: "DiskCommand", diskIndex: 2, command: { kind: "Resize", newSize: 1 << 30 } },
    ]);
  });

  test("balloonAdjust sends Adjust without waiting unless asked", async () => {
    await balloonAdjust(server.path, 4096);
    await balloonAdjust(server.path, 8192, { wait: true });

    expect(vm.requests).toEqual([
      { kind: "BalloonCommand", command: { kind: "Adjust", numBytes: 4096, waitForSuccess: false } },
      { kind: "BalloonCommand", command: { kind: "Adjust", numBytes: 8192, waitForSuccess: true } },
    ]);
  });

  test("hotplugNetAdd sends AddTap with the TAP name and resolves to the bus the VM answers", async () => {
    vm.answer = { kind: "PciHotPlugResponse", bus: 2 };

    const bus = await hotplugNetAdd(server.path, "tap7");

    expect([bus, vm.requests.at(-1)]).toEqual([
      2,
      { kind: "HotPlugNetCommand", command: { kind: "AddTap", tapName: "tap7" } },
    ]);
  });

  test("hotplugNetAdd rejects an Ok answer as unexpected (it carries no bus)", async () => {
    const error = await rejection(hotplugNetAdd(server.path, "tap7"));

    expect(error.reason).toBe("unexpected-response");
  });

  test("hotplugNetRemove sends RemoveTap with the bus", async () => {
    await hotplugNetRemove(server.path, 4);

    expect(vm.requests).toEqual([{ kind: "HotPlugNetCommand", command: { kind: "RemoveTap", bus: 4 } }]);
  });

  test("balloonStats returns the VM's statistics", async () => {
    vm.answer = { kind: "BalloonStats", stats: STATS, balloonActual: 1 << 20 };

    const result = await balloonStats(server.path);

    expect(result).toEqual({ stats: STATS, balloonActual: 1 << 20 });
  });

  test("an ErrString answer rejects with vm-error carrying the VM's message", async () => {
    vm.answer = { kind: "ErrString", message: "no balloon device" };

    const error = await rejection(balloonStats(server.path));

    expect(error.reason).toBe("vm-error");
    expect(error.message).toBe(
      `the VM at ${server.path} answered BalloonCommand with an error: no balloon device`,
    );
  });

  test("an Err answer names the errno", async () => {
    vm.answer = { kind: "Err", errno: 22 };

    const error = await rejection(resizeDisk(server.path, 0, 1));

    expect(error.message).toEndWith("with an error: EINVAL");
  });

  test("an answer of the wrong kind rejects with unexpected-response", async () => {
    vm.answer = { kind: "BalloonStats", stats: STATS, balloonActual: 0 };

    const error = await rejection(stopVm(server.path));

    expect(error.reason).toBe("unexpected-response");
  });

  test("sendRequest returns any response as it is", async () => {
    vm.answer = { kind: "ErrString", message: "busy" };

    expect(await sendRequest(server.path, { kind: "Powerbtn" })).toEqual({
      kind: "ErrString",
      message: "busy",
    });
  });

  test("a VM that does not answer in timeoutMs rejects with timeout", async () => {
    vm.answer = () => new Promise(() => {});

    const error = await rejection(stopVm(server.path, { timeoutMs: 30 }));

    expect(error.reason).toBe("timeout");
  });
});

describe("control client without a VM", () => {
  let tmp: { dir: string; cleanup: () => void };

  beforeEach(() => {
    tmp = tempDir();
  });

  afterEach(() => {
    tmp.cleanup();
  });

  test("a missing socket file is reported as no VM at the path", async () => {
    const path = join(tmp.dir, "none.sock");

    const error = await rejection(stopVm(path));

    expect(error.reason).toBe("no-vm");
    expect(error.message).toBe(`no VM at ${path} (no such file or directory)`);
  });

  test("a socket file nobody listens on is reported as connection refused", async () => {
    const path = join(tmp.dir, "dead.sock");
    const dead = newSeqpacketSocket("dead VM");
    libc.bind(dead, libc.sockaddrUn(path), path);
    libc.close(dead);

    const error = await rejection(powerButton(path));

    expect(error.message).toBe(`no VM at ${path} (connection refused)`);
  });

  test("a peer that closes without answering rejects with protocol", async () => {
    const path = join(tmp.dir, "rude.sock");
    const listener = newSeqpacketSocket("rude VM");
    libc.bind(listener, libc.sockaddrUn(path), path);
    libc.listen(listener, 1);
    const rude = setInterval(() => {
      const fd = acceptSeqpacket(listener, "rude VM");
      if (fd === null) return;
      recvPacket(fd, 1024, "rude VM");
      libc.close(fd);
    }, 2);

    const error = await rejection(stopVm(path));
    clearInterval(rude);
    libc.close(listener);

    expect(error.reason).toBe("protocol");
    expect(error.message).toContain("closed the connection without answering Exit");
  });
});
