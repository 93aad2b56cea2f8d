// The rig's VMM launcher and port-bridge, run with busybox sh on this host (as in the outer rig VM), with a FIFO
// standing in for each virtio-serial port: what the VMM writes to a serial port comes back on the same port's
// input, so a fake VMM can check both directions of both bridges.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestSourceDir } from "../../../scripts/guest/paths.ts";
import { busyboxPath } from "../../../scripts/guest/initramfs.ts";
import { nestedLaunchScript, type LaunchLayout } from "../../e2e/harness/rig_launcher.ts";

let dir: string;
let layout: LaunchLayout;
let env: Record<string, string>;

/** A fake VMM: writes a line to each serial port, reads it back from that port's input, exits with 7. */
const FAKE_VMM = `
run=$1
for port in console agent; do
  exec 5>> $run/nested/$port.out 6< $run/nested/$port.in
  echo "$port-line" >&5
  read -r line <&6
  echo "$line" >> $run/echoed
  exec 5>&- 6<&-
done
exit 7`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rig-launcher-"));
  const bin = join(dir, "bin");
  Bun.spawnSync(["mkdir", "-p", bin, join(dir, "nested")]);
  writeFileSync(
    join(bin, "port-bridge"),
    `#!/bin/sh\nexec ${busyboxPath} sh ${join(guestSourceDir, "rig/port_bridge")} "$@"\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(dir, "vmm"), FAKE_VMM, { mode: 0o755 });
  for (const port of ["console.port", "agent.port"]) Bun.spawnSync(["mkfifo", join(dir, port)]);
  layout = {
    run: dir,
    ports: ["console", "agent"].map((p) => ({ port: join(dir, `${p}.port`), base: join(dir, "nested", p) })),
  };
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}` } as Record<string, string>;
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function launch(): Promise<{ pid: string; events: () => string }> {
  const events = join(dir, "events");
  writeFileSync(events, "");
  const script = nestedLaunchScript([busyboxPath, "sh", join(dir, "vmm"), dir], layout);
  // fd 3 is the agent's port in the rig; here a file collecting the event lines.
  const proc = Bun.spawnSync([busyboxPath, "sh", "-c", `exec 3>> ${events}; ${script}`], { env });
  if (proc.exitCode !== 0) throw new Error(`launcher exited with ${proc.exitCode}: ${proc.stderr}`);
  return { pid: proc.stdout.toString().trim(), events: () => readFileSync(events, "utf8") };
}

async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await Bun.sleep(50);
}

test.skipIf(!existsSync(busyboxPath))(
  "the VMM's serial ports reach their bridged ports both ways, and its exit status comes as an event line",
  async () => {
    const { pid, events } = await launch();
    await waitFor(() => events().includes("vmmExit"));

    expect(pid).toMatch(/^\d+$/);
    expect(readFileSync(join(dir, "echoed"), "utf8")).toBe("console-line\nagent-line\n");
    expect(events()).toBe('{"vmmExit":7}\n');
    expect(readFileSync(join(dir, "vmm.status"), "utf8")).toBe("7\n");
  },
  15_000,
);

test.skipIf(!existsSync(busyboxPath))(
  "a second run starts from fresh FIFOs, and the bridges of a finished run leave no ready marker",
  async () => {
    const first = await launch();
    await waitFor(() => first.events().includes("vmmExit"));
    const markers = readdirSync(join(dir, "nested")).filter((f) => f.endsWith(".ready"));
    rmSync(join(dir, "echoed"));

    const second = await launch();
    await waitFor(() => second.events().includes("vmmExit"));

    expect(markers).toEqual([]);
    expect(readFileSync(join(dir, "echoed"), "utf8")).toBe("console-line\nagent-line\n");
    expect(second.events()).toBe('{"vmmExit":7}\n');
  },
  20_000,
);
