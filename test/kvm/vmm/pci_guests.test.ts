// PCI enumeration as a guest sees it: the host bridge at 00:00.0 and the virtio functions after it in crosvm's
// order (block devices as given, then rng, then the balloon), reached through configuration mechanism #1. The
// transports live on the main thread, so this also proves the vCPU Worker -> main thread path and the device
// processes' start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestImage } from "./guest_build.ts";
import { runCrosvm } from "./run_cli.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "crosvm-pci-"));
  writeFileSync(join(dir, "disk.img"), new Uint8Array(1 << 20));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PCI bus 0 through 0xCF8/0xCFC", () => {
  test("the host bridge is 00:00.0 and virtio-rng then virtio-balloon follow it by default", async () => {
    const r = await runCrosvm(["run", "--bios", await guestImage("pci_scan")]);

    expect(r.stdout).toBe("12378086\n10441AF4\n10451AF4\nFFFFFFFF\n");
    expect(r.status).toBe(0);
  });

  test("block devices come before rng, in --block order", async () => {
    const disk = join(dir, "disk.img");
    const r = await runCrosvm([
      "run",
      "--block",
      disk,
      "--block",
      // The same image again, read-only: unlocked, since the first --block holds its exclusive lock.
      `${disk},ro,lock=false`,
      "--bios",
      await guestImage("pci_scan"),
    ]);

    expect(r.stdout).toBe("12378086\n10421AF4\n10421AF4\n10441AF4\n");
    expect(r.status).toBe(0);
  });

  test("--no-rng leaves the host bridge and the balloon", async () => {
    const r = await runCrosvm(["run", "--no-rng", "--bios", await guestImage("pci_scan")]);

    expect(r.stdout).toBe("12378086\n10451AF4\nFFFFFFFF\nFFFFFFFF\n");
    expect(r.status).toBe(0);
  });

  test("--no-rng --no-balloon leaves only the host bridge", async () => {
    const r = await runCrosvm(["run", "--no-rng", "--no-balloon", "--bios", await guestImage("pci_scan")]);

    expect(r.stdout).toBe("12378086\nFFFFFFFF\nFFFFFFFF\nFFFFFFFF\n");
    expect(r.status).toBe(0);
  });

  test("--pci-hotplug-slots 2 adds two root ports (8086:3420) after the other functions", async () => {
    const r = await runCrosvm([
      "run",
      "--no-rng",
      "--pci-hotplug-slots",
      "2",
      "--bios",
      await guestImage("pci_scan"),
    ]);

    expect(r.stdout).toBe("12378086\n10451AF4\n34208086\n34208086\n");
    expect(r.status).toBe(0);
  });

  test("devices also run unconfined with --disable-sandbox", async () => {
    const r = await runCrosvm(["run", "--disable-sandbox", "--bios", await guestImage("pci_scan")]);

    expect(r.stdout).toBe("12378086\n10441AF4\n10451AF4\nFFFFFFFF\n");
    expect(r.status).toBe(0);
  });
});

describe("a Linux-style scan of 64 buses through 0xCF8/0xCFC", () => {
  test("only the host bridge, rng and balloon answer, and CONFIG_ADDRESS reads back the last slot", async () => {
    const r = await runCrosvm(["run", "--bios", await guestImage("pci_peer_scan")]);

    expect(r.stdout).toBe("00000003\n803FF800\n");
    expect(r.status).toBe(0);
  });
});

describe("PCI configuration through the ECAM window", () => {
  test("present functions answer with their IDs and an empty bus reads all-ones", async () => {
    const r = await runCrosvm(["run", "--bios", await guestImage("ecam_scan")]);

    expect(r.stdout).toBe("12378086\n10441AF4\nFFFFFFFF\n");
    expect(r.status).toBe(0);
  });
});

describe("pvpanic (--pvpanic)", () => {
  test("a panic the guest reports ends the VM as a guest panic (34 with --extended-status)", async () => {
    const r = await runCrosvm([
      "--extended-status",
      "run",
      "--pvpanic",
      "--bios",
      await guestImage("pvpanic"),
    ]);

    expect(r.stdout).toMatch(/^D[0-9A-F]{7}\n$/);
    expect(r.stderr).toContain("the guest panicked");
    expect(r.status).toBe(34);
  });
});
