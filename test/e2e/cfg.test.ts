// Issue 5 end to end: a --cfg file that includes another file boots the same VM as the equivalent command line
// (spec "Configuration files": included files first, then the including file, then the command line, which
// replaces single values and extends lists). The harness adds its own --mem, --cpus, -p, -i, serial ports and
// kernel on the command line, so they compose with the files here: its --mem overrides the files' "mem".
// Run alone: bun test test/e2e/cfg.test.ts
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir, endTestFile, TestVm } from "./harness/test_vm.ts";
import { BOOT_HOOK_TIMEOUT_MS } from "./harness/boot_retry.ts";
import { guestCmdline } from "./harness/vmm_command.ts";

const EXEC = { timeoutMs: 30_000 };
const MIB = 1024 * 1024;
/** The guest memory the harness asks for on the command line; the files ask for more. */
const HARNESS_MEM_MIB = 384;
const FILE_MEM_MIB = 512;
const HARNESS_PARAMS = "quiet";

afterAll(endTestFile, 60_000);

interface GuestFacts {
  /** /proc/cmdline without the parameters the harness adds itself. */
  params: string[];
  memTotalKib: number;
  /** "vda 2048 0" lines: name, size in 512-byte sectors, read-only flag. */
  disks: string;
}

async function guestFacts(vm: TestVm): Promise<GuestFacts> {
  const harness = new Set(guestCmdline(HARNESS_PARAMS).split(" "));
  const cmdline = (await vm.exec("cat /proc/cmdline", EXEC)).stdout.trim().split(/\s+/);
  const mem = (await vm.exec("grep MemTotal /proc/meminfo", EXEC)).stdout;
  const disks = await vm.exec(
    "for d in /sys/block/vd*; do echo $(basename $d) $(cat $d/size) $(cat $d/ro); done",
    EXEC,
  );
  return {
    params: cmdline.filter((p) => !harness.has(p)),
    memTotalKib: Number(/MemTotal:\s+(\d+) kB/.exec(mem)?.[1]),
    disks: disks.stdout,
  };
}

async function bootAndCollect(vmmArgs: string[]): Promise<GuestFacts> {
  const vm = await TestVm.boot({ mem: HARNESS_MEM_MIB, cmdline: HARNESS_PARAMS, vmmArgs });
  try {
    return await guestFacts(vm);
  } finally {
    await vm.stop();
  }
}

describe("--cfg vm.json including base.json", () => {
  let fromCfg: GuestFacts;
  let fromCommandLine: GuestFacts;

  beforeAll(async () => {
    const { hostDir, vmmDir } = await scratchDir("crosvm");
    writeFileSync(join(hostDir, "cfg-a.img"), new Uint8Array(MIB));
    writeFileSync(join(hostDir, "cfg-b.img"), new Uint8Array(2 * MIB));
    const base = {
      mem: { size: FILE_MEM_MIB },
      params: ["cfg_base=1", "cfg_shared=base"],
      block: [{ path: `${vmmDir}/cfg-a.img` }],
    };
    const top = {
      cfg: ["base.json"],
      params: ["cfg_top=1"],
      block: [{ path: `${vmmDir}/cfg-b.img`, ro: true }],
    };
    writeFileSync(join(hostDir, "base.json"), JSON.stringify(base));
    writeFileSync(join(hostDir, "cfg-vm.json"), JSON.stringify(top));

    // The harness's own --mem HARNESS_MEM_MIB is on both command lines.
    fromCfg = await bootAndCollect(["--cfg", `${vmmDir}/cfg-vm.json`]);
    fromCommandLine = await bootAndCollect([
      ...["-p", "cfg_base=1 cfg_shared=base", "-p", "cfg_top=1"],
      ...["--block", `path=${vmmDir}/cfg-a.img`, "--block", `path=${vmmDir}/cfg-b.img,ro`],
    ]);
  }, 2 * BOOT_HOOK_TIMEOUT_MS);

  test("the guest sees the files' kernel parameters, included file first, as on the command line", () => {
    expect(fromCfg.params).toEqual(["cfg_base=1", "cfg_shared=base", "cfg_top=1"]);
    expect(fromCfg.params).toEqual(fromCommandLine.params);
  });

  test("the harness's --mem on the command line overrides the files' mem", () => {
    expect(fromCfg.memTotalKib).toBe(fromCommandLine.memTotalKib);
    expect(fromCfg.memTotalKib).toBeLessThanOrEqual(HARNESS_MEM_MIB * 1024);
    expect(fromCfg.memTotalKib).toBeGreaterThan((HARNESS_MEM_MIB - 64) * 1024);
  });

  test("the guest sees the included file's disk first, then the including file's read-only disk", () => {
    expect(fromCfg.disks).toBe("vda 2048 0\nvdb 4096 1\n");
    expect(fromCfg.disks).toBe(fromCommandLine.disks);
  });
});
