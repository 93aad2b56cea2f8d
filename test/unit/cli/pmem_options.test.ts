// --pmem and its deprecated forms (crosvm's PmemOption, --pmem-device, --rw-pmem-device), into VmConfig.pmems,
// and the root= parameter a root pmem device puts on the kernel command line.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCmdline } from "../../../src/arch/x86_64/cmdline.ts";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";
import { runConfig as config, runRefusal } from "./helpers.ts";

describe("--pmem", () => {
  test("a bare path is a writable, non-root device", () => {
    expect(config("--pmem", "disk.img", "k").pmems).toEqual([{ path: "disk.img", ro: false, root: false }]);
  });

  test("ro and root keys, bare or =true, as in the crosvm book", () => {
    expect(config("--pmem", "rootfs.img,root=true,ro=true", "--pmem", "b.img,ro", "k").pmems).toEqual([
      { path: "rootfs.img", ro: true, root: true },
      { path: "b.img", ro: true, root: false },
    ]);
  });

  test("vma-size (and its serde spelling vma_size) gives the anonymous area's size", () => {
    expect(
      config("--pmem", "a,vma-size=4194304", "--pmem", "b,vma_size=4096", "k").pmems.map((p) => p.vmaSize),
    ).toEqual([4194304, 4096]);
  });

  test("vma-size=0 is refused naming the key", () => {
    expect(failure("--pmem", "a,vma-size=0", "k")).toContain("vma-size");
  });

  test("an unknown key is refused naming it", () => {
    expect(failure("--pmem", "a.img,sparse=true", "k")).toContain("sparse");
  });

  test("no --pmem means no pmem devices", () => {
    expect(config("k").pmems).toEqual([]);
  });
});

describe("deprecated forms (crosvm: use --pmem)", () => {
  test("--pmem-device is read-only and --rw-pmem-device writable, in command-line order with --pmem", () => {
    const pmems = config("--rw-pmem-device", "a.img", "--pmem", "b.img", "--pmem-device", "c.img", "k").pmems;

    expect(pmems.map((p) => [p.path, p.ro])).toEqual([
      ["a.img", false],
      ["b.img", false],
      ["c.img", true],
    ]);
  });

  test("using one is reported so the run command can warn", () => {
    const parsed = parseRunConfig(["--pmem-device", "a.img", "k"], { extendedStatus: false });

    expect(!parsed.help && parsed.warnings).toEqual([
      "Deprecated --pmem-device or --rw-pmem-device flags are passed. Use --pmem instead.",
    ]);
  });
});

describe("the root device", () => {
  test("a --pmem root and a --block root are refused together, naming both options", () => {
    expect(failure("--block", "r.img,root", "--pmem", "p.img,root", "k")).toBe(
      "--block and --pmem: only one root disk can be specified",
    );
  });

  test("a read-only root pmem device adds root=/dev/pmemN ro after the user's parameters", () => {
    const line = buildCmdline({
      serials: [],
      disks: [],
      pmems: [
        { root: false, ro: false },
        { root: true, ro: true },
      ],
      params: ["quiet"],
    }).toString();

    expect(line).toBe("panic=-1 quiet root=/dev/pmem1 ro");
  });

  test("a writable root pmem device adds root=/dev/pmem0 rw", () => {
    expect(
      buildCmdline({ serials: [], disks: [], pmems: [{ root: true, ro: false }], params: [] }).toString(),
    ).toBe("panic=-1 root=/dev/pmem0 rw");
  });

  test("--cfg files give pmem devices as a list, before the command line's", () => {
    const file = join(mkdtempSync(join(tmpdir(), "pmem-cfg-")), "vm.json");
    writeFileSync(file, JSON.stringify({ pmem: [{ path: "/f.img", ro: true, root: true }] }));

    expect(config("--cfg", file, "--pmem", "/c.img", "k").pmems).toEqual([
      { path: "/f.img", ro: true, root: true },
      { path: "/c.img", ro: false, root: false },
    ]);
  });
});

/** The one line `crosvm run ARGV` is refused with. */
function failure(...argv: string[]): string {
  return runRefusal(...argv).message;
}
