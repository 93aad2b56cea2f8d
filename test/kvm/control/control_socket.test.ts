// The control socket of a running VM (`crosvm run -s SOCKET`) driven by the control subcommands, with tiny --bios
// guests: stop, suspend/resume (vCPUs, and --full holding serial input back), powerbtn, the requests this VM has no
// device for, a client with nobody listening, and a malformed packet, through dist/crosvm and, for the first,
// through `bun run src/main.ts` (launchRunners in ../vmm/run_cli.ts).
import { afterAll, describe, expect, test } from "bun:test";
import { scaled } from "../time_scale.ts";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close } from "../../../ffi/libc.ts";
import { decodeResponse, MAX_MESSAGE_SIZE, type VmResponse } from "../../../src/vm_control/protocol.ts";
import { connectSeqpacket, recvPacket, sendPacket } from "../../../src/vm_control/seqpacket.ts";
import { guestImage } from "../vmm/guest_build.ts";
import { launchRunners, runCrosvm, startCrosvm, type RunningCrosvm } from "../vmm/run_cli.ts";

const dir = mkdtempSync(join(tmpdir(), "crosvm-control-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let socketCount = 0;

/** Per-test limit: a VM start through `bun run` takes about 0.2 s, each control command about as long. */
const TEST_TIMEOUT_MS = scaled(20_000);

const runners = launchRunners();

async function waitForFile(path: string, timeoutMs = scaled(10_000)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

/** Sends raw bytes as one packet on a new connection and waits for the one-packet answer. */
async function rawRequest(socket: string, bytes: Uint8Array, timeoutMs = 5000): Promise<VmResponse> {
  const fd = connectSeqpacket(socket);
  try {
    expect(sendPacket(fd, bytes, "test connection")).toBe("sent");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = recvPacket(fd, MAX_MESSAGE_SIZE, "test connection");
      if (r.kind === "packet") {
        const decoded = decodeResponse(r.bytes);
        if (!decoded.ok) throw decoded.error;
        return decoded.value;
      }
      if (r.kind !== "none") throw new Error(`no answer: ${r.kind}`);
      if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
      await Bun.sleep(10);
    }
  } finally {
    close(fd);
  }
}

const lastTick = (out: string): number => {
  const ticks = [...out.matchAll(/tick ([0-9A-F]{8})\n/g)];
  return ticks.length === 0 ? -1 : parseInt(ticks[ticks.length - 1]![1]!, 16);
};

for (const runner of runners) {
  describe.skipIf(!runner.available)(`through ${runner.name}`, () => {
    const control = (...args: string[]) => runCrosvm(args, { compiled: runner.compiled });

    /** Starts `guest` with a control socket; resolves once the socket exists. */
    async function startVm(
      guest: string,
      opts: { globals?: string[]; runArgs?: string[]; keepStdinOpen?: boolean } = {},
    ): Promise<{ vmm: RunningCrosvm; socket: string }> {
      const socket = join(dir, `vm${socketCount++}.sock`);
      const vmm = startCrosvm(
        [
          ...(opts.globals ?? []),
          "run",
          "-s",
          socket,
          ...(opts.runArgs ?? []),
          "--bios",
          await guestImage(guest),
        ],
        { compiled: runner.compiled, keepStdinOpen: opts.keepStdinOpen ?? false, timeoutMs: 30_000 },
      );
      const exited = vmm.result.then((r) => r);
      const first = await Promise.race([waitForFile(socket).then(() => undefined), exited]);
      if (first !== undefined)
        throw new Error(`the VMM exited with ${first.status} before listening: ${first.stderr}`);
      return { vmm, socket };
    }

    test(
      "`crosvm stop` ends a running VM with status 0 and its socket file is removed",
      async () => {
        const { vmm, socket } = await startVm("spin", { globals: ["--extended-status"] });
        await vmm.waitForOutput("spinning\n");

        const stop = await control("stop", socket);
        const r = await vmm.result;

        expect(stop.status).toBe(0);
        expect(r.status).toBe(0);
        expect(r.stderr).toContain("stopped through the control socket; exiting with success");
        expect(existsSync(socket)).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    // The rest only where this runner runs every test (launchRunners).
    if (!runner.everyTest) return;

    test(
      "`crosvm suspend` stops the guest's serial output and `crosvm resume` continues it",
      async () => {
        const { vmm, socket } = await startVm("counter");
        await vmm.waitForOutput("tick 00000003\n");

        const suspend = await control("suspend", socket);
        await Bun.sleep(200); // let output written before the pause reach us
        const atSuspend = vmm.stdout();
        await Bun.sleep(1000);
        const afterPause = vmm.stdout();
        const resume = await control("resume", socket);
        const next = (lastTick(afterPause) + 1).toString(16).toUpperCase().padStart(8, "0");
        await vmm.waitForOutput(`tick ${next}\n`);
        await control("stop", socket);
        const r = await vmm.result;

        expect(suspend.status).toBe(0);
        expect(afterPause).toBe(atSuspend);
        expect(resume.status).toBe(0);
        expect(r.status).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "input sent during `crosvm suspend --full` reaches the guest after `crosvm resume --full`",
      async () => {
        const { vmm, socket } = await startVm("echo", { keepStdinOpen: true });
        await vmm.waitForOutput("ready\n");

        const suspend = await control("suspend", "--full", socket);
        vmm.stdin.write("x");
        await vmm.stdin.flush();
        await Bun.sleep(700);
        const whileSuspended = vmm.stdout();
        const resume = await control("resume", "--full", socket);
        await vmm.waitForOutput("got: x\n");
        await vmm.stdin.end();
        const r = await vmm.result;

        expect(suspend.status).toBe(0);
        expect(whileSuspended).toBe("ready\n");
        expect(resume.status).toBe(0);
        expect(r.stdout).toBe("ready\ngot: x\n");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "`crosvm powerbtn` sets PM1_STS.PWRBTN; the guest then enters S5 and the VM exits with 0",
      async () => {
        const { vmm, socket } = await startVm("powerbtn", { globals: ["--extended-status"] });
        await vmm.waitForOutput("armed\n");

        const press = await control("powerbtn", socket);
        const r = await vmm.result;

        expect(press.status).toBe(0);
        expect(r.stdout).toBe("armed\npower button pressed\n");
        expect(r.stderr).toContain("the guest powered off; exiting with success");
        expect(r.status).toBe(0);
        expect(existsSync(socket)).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "without a disk and with --no-balloon, disk and balloon requests are refused with one line each while the VM keeps running",
      async () => {
        const { vmm, socket } = await startVm("counter", { runArgs: ["--no-balloon"] });
        await vmm.waitForOutput("tick 00000001\n");

        const disk = await control("disk", "resize", "0", "1048576", socket);
        const balloon = await control("balloon", "4096", socket);
        const before = lastTick(vmm.stdout());
        const next = (before + 2).toString(16).toUpperCase().padStart(8, "0");
        await vmm.waitForOutput(`tick ${next}\n`);
        await control("stop", socket);
        await vmm.result;

        expect(disk.status).toBe(1);
        expect(disk.stderr).toContain("no disk 0");
        expect(balloon.status).toBe(1);
        expect(balloon.stderr).toContain("no balloon device");
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "a malformed packet is answered with ErrString and the VM keeps running",
      async () => {
        const { vmm, socket } = await startVm("counter");
        await vmm.waitForOutput("tick 00000001\n");

        const answer = await rawRequest(socket, new TextEncoder().encode("{not json"));
        const before = lastTick(vmm.stdout());
        const next = (before + 2).toString(16).toUpperCase().padStart(8, "0");
        await vmm.waitForOutput(`tick ${next}\n`);
        const stop = await control("stop", socket);
        const r = await vmm.result;

        expect(answer.kind).toBe("ErrString");
        expect(answer.kind === "ErrString" && answer.message).toContain("malformed JSON");
        expect(stop.status).toBe(0);
        expect(r.status).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "`crosvm stop` on a path where nothing listens fails with a message naming the path",
      async () => {
        const socket = join(dir, "nobody-listens.sock");

        const r = await control("stop", socket);

        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain("crosvm stop:");
        expect(r.stderr).toContain(socket);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
      },
      TEST_TIMEOUT_MS,
    );
  });
}
