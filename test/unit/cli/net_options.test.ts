// --net and crosvm's deprecated network options on the command line: each NIC's mode is exactly one of tap-name,
// tap-fd and host-ip (with netmask and mac), and a bad value is one line naming the option and the key.
import { describe, expect, test } from "bun:test";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import type { NetOption } from "../../../src/vmm/config.ts";

function nets(...argv: string[]): NetOption[] {
  const parsed = parseRunConfig([...argv, "/k"], { extendedStatus: false });
  if (parsed.help) throw new Error("help requested");
  return parsed.config.nets;
}

const error = (...argv: string[]) => {
  try {
    nets(...argv);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
};

describe("--net", () => {
  test("tap-name with mac and vq-pairs gives one NIC with those values", () => {
    expect(nets("--net", "tap-name=tap0,mac=52:54:00:12:34:56,vq-pairs=2")).toEqual([
      { tapName: "tap0", mac: "52:54:00:12:34:56", vqPairs: 2 },
    ]);
  });

  test("repeated, it gives one NIC per value in order", () => {
    expect(nets("--net", "tap-name=a", "--net", "tap-fd=5").map((n) => n.tapName ?? n.tapFd)).toEqual([
      "a",
      5,
    ]);
  });

  test("host-ip with netmask and mac gives a NIC on a TAP the VMM creates", () => {
    expect(nets("--net", "host-ip=192.168.10.1,netmask=255.255.255.0,mac=52:54:00:12:34:56")).toEqual([
      { hostIp: "192.168.10.1", netmask: "255.255.255.0", mac: "52:54:00:12:34:56", vqPairs: 1 },
    ]);
  });

  test("two modes in one value are refused at the second", () => {
    expect(error("--net", "tap-name=a,tap-fd=3")).toContain('key "tap-fd"');
  });

  test("no mode at all is refused", () => {
    expect(error("--net", "mac=52:54:00:12:34:56")).toContain("one of tap-name, tap-fd or host-ip");
  });

  test("host-ip without netmask or mac is refused, naming the missing key", () => {
    expect(error("--net", "host-ip=10.0.0.1,mac=52:54:00:12:34:56")).toContain('key "netmask"');
    expect(error("--net", "host-ip=10.0.0.1,netmask=255.0.0.0")).toContain('key "mac"');
  });

  test("a bad MAC, a non-contiguous netmask and vq-pairs 0 are refused, naming the key", () => {
    expect(error("--net", "tap-name=a,mac=52:54:00:12:34")).toContain('key "mac"');
    expect(error("--net", "host-ip=10.0.0.1,netmask=255.0.255.0,mac=52:54:00:12:34:56")).toContain(
      'key "netmask"',
    );
    expect(error("--net", "tap-name=a,vq-pairs=0")).toContain('key "vq-pairs"');
  });

  test("vhost-net (bare, =true, or crosvm's vhost_net) puts the NIC on vhost-net; =false or absent does not", () => {
    expect(
      nets(
        ...["--net", "tap-name=a,vhost-net"],
        ...["--net", "tap-name=b,vhost-net=true"],
        ...["--net", "tap-name=c,vhost_net=true"],
        ...["--net", "tap-name=d,vhost-net=false"],
      ).map((n) => n.vhostNet),
    ).toEqual([true, true, true, undefined]);
  });

  test("vhost-net=maybe is refused naming the key", () => {
    expect(error("--net", "tap-name=a,vhost-net=maybe")).toContain("vhost-net");
  });

  test("packed-queue=true is refused: packed virtqueues are not supported", () => {
    expect(error("--net", "tap-name=a,packed-queue=true")).toContain("packed virtqueues are not supported");
  });
});

describe("the deprecated network options", () => {
  test("--tap-name NAME and --tap-fd FD each add a NIC after the --net ones", () => {
    expect(nets("--tap-name", "t1", "--net", "tap-name=t0", "--tap-fd", "7")).toEqual([
      { tapName: "t0", vqPairs: 1 },
      { tapName: "t1", vqPairs: 1 },
      { tapFd: 7, vqPairs: 1 },
    ]);
  });

  test("--host-ip, --netmask and --mac together add one NIC", () => {
    expect(nets("--host-ip", "10.0.0.1", "--netmask", "255.0.0.0", "--mac", "52:54:00:12:34:56")).toEqual([
      { hostIp: "10.0.0.1", netmask: "255.0.0.0", mac: "52:54:00:12:34:56", vqPairs: 1 },
    ]);
  });

  test("--host-ip without --netmask and --mac is refused in one line", () => {
    expect(error("--host-ip", "10.0.0.1")).toBe(
      "--host-ip: --host-ip, --netmask and --mac must be given together",
    );
  });

  test("a bad --tap-fd or --mac value is refused naming the option", () => {
    expect(error("--tap-fd", "x")).toBe('--tap-fd: expected a descriptor number, got "x"');
    expect(error("--host-ip", "10.0.0.1", "--netmask", "255.0.0.0", "--mac", "zz")).toStartWith(
      "--mac: expected a unicast MAC address",
    );
  });
});
