// --vsock (crosvm's VsockConfig), its deprecated --cid, --vhost-vsock-device and --vhost-vsock-fd, and --cfg,
// into VmConfig.vsock.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArgumentError, ConfigError } from "../../../src/cli/errors.ts";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";

function config(...argv: string[]): VmConfig {
  const parsed = parseRunConfig(argv, { extendedStatus: false });
  if (parsed.help) throw new Error("help requested");
  return parsed.config;
}

function failure(...argv: string[]): string {
  try {
    parseRunConfig(argv, { extendedStatus: false });
  } catch (e) {
    if (e instanceof ArgumentError || e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

function cfgFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "vsock-cfg-")), "vm.json");
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe("--vsock", () => {
  test("a bare number is the CID on /dev/vhost-vsock (the crosvm book's --vsock ${GUEST_CID})", () => {
    expect(config("--vsock", "3", "k").vsock).toEqual({
      cid: 3,
      device: "/dev/vhost-vsock",
      option: "--vsock",
    });
  });

  test("cid= and device= keys", () => {
    expect(config("--vsock", "cid=9,device=/dev/other-vsock", "k").vsock).toEqual({
      cid: 9,
      device: "/dev/other-vsock",
      option: "--vsock",
    });
  });

  test("a reserved CID is refused naming the option and the allowed range", () => {
    expect(failure("--vsock", "2", "k")).toBe(
      '--vsock: key "cid" expects a CID from 3 to 4294967294 (0-2 are reserved, 2 is the host), got "2"',
    );
  });

  test("a CID past 32 bits is refused", () => {
    expect(failure("--vsock", "cid=4294967296", "k")).toContain("a CID from 3 to 4294967294");
  });

  test("no --vsock means no vsock device", () => {
    expect(config("k").vsock).toBeUndefined();
  });

  test("a --cfg file gives the same device as the command line", () => {
    expect(config("--cfg", cfgFile({ vsock: { cid: 4 } }), "k").vsock).toEqual(
      config("--vsock", "4", "k").vsock,
    );
  });
});

describe("deprecated vsock options", () => {
  test("--cid N is a vsock device with CID N whose errors name --cid", () => {
    expect(config("--cid", "5", "k").vsock).toEqual({ cid: 5, device: "/dev/vhost-vsock", option: "--cid" });
  });

  test("--cid 2 is refused naming --cid", () => {
    expect(failure("--cid", "2", "k")).toStartWith("--cid: expected an integer from 3 to 4294967294");
  });

  test("--cid together with --vsock is refused", () => {
    expect(failure("--vsock", "3", "--cid", "4", "k")).toStartWith("--cid: a vsock CID was already given");
  });

  test("--vhost-vsock-device names the vhost device of the CID", () => {
    expect(config("--vsock", "3", "--vhost-vsock-device", "/dev/vv", "k").vsock).toEqual({
      cid: 3,
      device: "/dev/vv",
      option: "--vhost-vsock-device",
    });
  });

  test("--vhost-vsock-fd FD opens the descriptor again through /proc/self/fd", () => {
    expect(config("--cid", "3", "--vhost-vsock-fd", "7", "k").vsock).toEqual({
      cid: 3,
      device: "/proc/self/fd/7",
      option: "--vhost-vsock-fd 7",
    });
  });

  test("--vhost-vsock-device and --vhost-vsock-fd together are refused", () => {
    expect(failure("--vsock", "3", "--vhost-vsock-device", "/d", "--vhost-vsock-fd", "7", "k")).toStartWith(
      "--vhost-vsock-fd: --vhost-vsock-device was also given",
    );
  });

  test("a vhost device without a CID is refused naming the option", () => {
    expect(failure("--vhost-vsock-device", "/dev/vhost-vsock", "k")).toBe(
      "--vhost-vsock-device: no vsock device (expected --vsock CID too)",
    );
  });
});
