import { describe, expect, test } from "bun:test";
import { mmdebstrapCommand, PACKAGES } from "../../../scripts/guest/debian/image.ts";

const mirrors = ["deb http://mirror.example/debian bookworm main"];

describe("mmdebstrap command of the Debian image", () => {
  test("suite, target and the machine's mirror lines end the command", () => {
    const cmd = mmdebstrapCommand("/build/stage", mirrors);

    expect(cmd.slice(-3)).toEqual(["bookworm", "/build/stage", mirrors[0]!]);
  });

  test("fstab and initramfs-tools' FSTYPE are written before the packages, so the initrd gets fsck.ext4", () => {
    const essential = mmdebstrapCommand("/s", mirrors).filter((a) => a.startsWith("--essential-hook="));

    expect(
      essential.some((a) => a.includes("/dev/vda / ext4 errors=remount-ro 0 1") && a.includes("/etc/fstab")),
    ).toBe(true);
    expect(essential.some((a) => a.includes("FSTYPE=ext4"))).toBe(true);
  });

  test("the packages include the kernel, initramfs-tools, systemd as init, udev and e2fsprogs", () => {
    const include = mmdebstrapCommand("/s", mirrors).find((a) => a.startsWith("--include="));

    for (const pkg of [
      "linux-image-amd64",
      "initramfs-tools",
      "systemd-sysv",
      "udev",
      "e2fsprogs",
      "iproute2",
    ])
      expect(PACKAGES).toContain(pkg);
    expect(include).toBe(`--include=${PACKAGES.join(",")}`);
  });

  test("the agent service is enabled and the console getty logs root in", () => {
    const hooks = mmdebstrapCommand("/s", mirrors).filter((a) => a.startsWith("--customize-hook="));

    expect(hooks).toContain('--customize-hook=chroot "$1" systemctl enable crosvm-agent.service');
    expect(hooks.some((a) => a.includes("serial-getty@ttyS0.service.d"))).toBe(true);
    expect(hooks).toContain('--customize-hook=chroot "$1" passwd -d root');
  });
});
