import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile } from "../../../src/cli/cfg.ts";
import { ArgumentError, EXIT_INVALID_ARGS } from "../../../src/cli/errors.ts";
import { runConfig as config } from "./helpers.ts";

/** Writes `files` (name -> JSON value or raw text) into a fresh folder and returns its path. */
function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "crosvm-cfg-"));
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

function loadError(file: string): ArgumentError {
  try {
    loadConfigFile(file);
  } catch (e) {
    if (e instanceof ArgumentError) return e;
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

// The spec's vm.json (section "Combining configuration files and command-line options").
const VM_JSON = { kernel: "/path/to/bzImage", block: [{ path: "/path/to/root.img", root: true }] };

describe("the spec's examples", () => {
  test("--cfg vm.json --block home.img gives root.img then home.img", () => {
    const dir = folder({ "vm.json": VM_JSON });
    const c = config("--cfg", join(dir, "vm.json"), "--block", "/path/to/home.img");
    expect(c.disks.map((d) => [d.path, d.root])).toEqual([
      ["/path/to/root.img", true],
      ["/path/to/home.img", false],
    ]);
  });

  test("--kernel on the command line replaces the file's kernel", () => {
    const dir = folder({ "vm.json": VM_JSON });
    expect(config("--cfg", join(dir, "vm.json"), "--kernel", "/path/to/another/bzImage").kernel).toBe(
      "/path/to/another/bzImage",
    );
  });

  test("--kernel before --cfg still replaces the file's kernel", () => {
    const dir = folder({ "vm.json": VM_JSON });
    expect(config("--kernel", "/path/to/another/bzImage", "--cfg", join(dir, "vm.json")).kernel).toBe(
      "/path/to/another/bzImage",
    );
  });

  test("a positional KERNEL also replaces the file's kernel", () => {
    const dir = folder({ "vm.json": VM_JSON });
    expect(config("/other/bzImage", "--cfg", join(dir, "vm.json")).kernel).toBe("/other/bzImage");
  });

  test("the configuration file example gives the same VM as its command line", () => {
    const dir = folder({
      "vm.json": {
        kernel: "/path/to/bzImage",
        cpus: { "num-cores": 8 },
        mem: { size: 2048 },
        block: [{ path: "/path/to/root.img", root: true }],
        serial: [{ type: "stdout", hardware: "virtio-console", console: true, stdin: true }],
      },
    });
    expect(config("--cfg", join(dir, "vm.json"))).toEqual(
      config(
        "--kernel",
        "/path/to/bzImage",
        "--cpus",
        "8",
        "--mem",
        "2048",
        "--block",
        "/path/to/root.img,root",
        "--serial",
        "stdout,hardware=virtio-console,console,stdin",
      ),
    );
  });
});

describe("merging several files and the command line", () => {
  test("a later --cfg replaces single values and extends lists", () => {
    const dir = folder({
      "a.json": { kernel: "/a", mem: { size: 512 }, params: ["one"], block: [{ path: "a.img" }] },
      "b.json": { kernel: "/b", params: ["two"], block: [{ path: "b.img" }] },
    });
    const c = config("--cfg", join(dir, "a.json"), "--cfg", join(dir, "b.json"));
    expect([c.kernel, c.memMib, c.params, c.disks.map((d) => d.path)]).toEqual([
      "/b",
      512,
      ["one", "two"],
      ["a.img", "b.img"],
    ]);
  });

  test("command-line params come after the files' params", () => {
    const dir = folder({ "a.json": { kernel: "/a", params: ["from-file"] } });
    expect(config("-p", "from-cli", "--cfg", join(dir, "a.json")).params).toEqual(["from-file", "from-cli"]);
  });

  test("a file can turn a switch off that an earlier file turned on", () => {
    const dir = folder({ "a.json": { kernel: "/a", "no-rng": true }, "b.json": { "no-rng": false } });
    expect(config("--cfg", join(dir, "a.json"), "--cfg", join(dir, "b.json")).rng).toBe(true);
  });

  test("a file's pvpanic switch reaches the config", () => {
    const dir = folder({ "a.json": { kernel: "/a", pvpanic: true } });
    expect(config("--cfg", join(dir, "a.json")).pvpanic).toBe(true);
  });

  test("a command-line switch overrides the file", () => {
    const dir = folder({ "a.json": { kernel: "/a", "disable-sandbox": false } });
    expect(config("--cfg", join(dir, "a.json"), "--disable-sandbox").disableSandbox).toBe(true);
  });

  test("-m on the command line replaces the file's mem", () => {
    const dir = folder({ "a.json": { kernel: "/a", mem: { size: 4096 } } });
    expect(config("-m", "1024", "--cfg", join(dir, "a.json")).memMib).toBe(1024);
  });

  test("a root disk in a file and another on the command line are two roots", () => {
    const dir = folder({ "vm.json": VM_JSON });
    expect(() => config("--cfg", join(dir, "vm.json"), "-b", "x.img,root")).toThrow(
      `${join(dir, "vm.json")} and --block: only one root disk can be specified`,
    );
  });
});

describe("included files (spec: the cfg directive)", () => {
  test("included files apply first, in order, and the parent overrides them", () => {
    const dir = folder({
      "net.json": { kernel: "/net", initrd: "/net-initrd", params: ["net"] },
      "gpu.json": { kernel: "/gpu", params: ["gpu"] },
      "vm.json": { params: ["vm"], kernel: "/vm", cfg: ["net.json", "gpu.json"] },
    });
    const c = config("--cfg", join(dir, "vm.json"));
    expect([c.kernel, c.initrd, c.params]).toEqual(["/vm", "/net-initrd", ["net", "gpu", "vm"]]);
  });

  test("the parent overrides an included file even when cfg comes last in it", () => {
    const dir = folder({
      "base.json": { mem: { size: 1024 } },
      "vm.json": { kernel: "/k", mem: { size: 64 }, cfg: ["base.json"] },
    });
    expect(config("--cfg", join(dir, "vm.json")).memMib).toBe(64);
  });

  test("a relative include is found next to the including file", () => {
    const dir = folder({ "conf/base.json": { kernel: "/k" }, "conf/vm.json": { cfg: ["base.json"] } });
    expect(config("--cfg", join(dir, "conf", "vm.json")).kernel).toBe("/k");
  });

  test("includes nest", () => {
    const dir = folder({
      "c.json": { kernel: "/c" },
      "sub/b.json": { cfg: ["../c.json"] },
      "a.json": { cfg: ["sub/b.json"] },
    });
    expect(config("--cfg", join(dir, "a.json")).kernel).toBe("/c");
  });
});

describe("configuration file errors name the file, the key and what was expected", () => {
  test("an unknown top-level key", () => {
    const dir = folder({ "vm.json": { kernel: "/k", gpu: [{ backend: "2d" }] } });
    expect(loadError(join(dir, "vm.json")).message).toStartWith(
      `${join(dir, "vm.json")}: gpu: unknown key (expected one of: bios, block, cfg,`,
    );
  });

  test("an unknown key inside a block device", () => {
    const dir = folder({ "vm.json": { block: [{ path: "a.img", cache: "none" }] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0].cache: unknown key (expected one of: path, ro, root, sparse, block-size, id, direct, lock)`,
    );
  });

  test("a wrong type", () => {
    const dir = folder({ "vm.json": { block: [{ path: "a.img", ro: "yes" }] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0].ro: expected a boolean, got "yes"`,
    );
  });

  test("a value that fails a check", () => {
    const dir = folder({ "vm.json": { block: [{ path: "a.img", block_size: 1000 }] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0].block-size: expected a power of two >= 512, got 1000`,
    );
  });

  test("a missing required key", () => {
    const dir = folder({ "vm.json": { block: [{ ro: true }] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0].path: missing (expected a path)`,
    );
  });

  test("mem given as a number instead of an object", () => {
    const dir = folder({ "vm.json": { mem: 2048 } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: mem: expected an object such as {"size": 2048}, got 2048`,
    );
  });

  test("params that are not a list", () => {
    const dir = folder({ "vm.json": { params: "quiet" } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: params: expected a list of strings, got "quiet"`,
    );
  });

  test("a serial port rule", () => {
    const dir = folder({ "vm.json": { serial: [{ type: "stdout", num: 5 }] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: serial[0].num: expected 1 to 4 for hardware=serial (COM1-COM4), got 5`,
    );
  });

  test("the deprecated disk options are not accepted in files", () => {
    const dir = folder({ "vm.json": { rwdisk: ["a.img"] } });
    expect(loadError(join(dir, "vm.json")).message).toContain("rwdisk: unknown key");
  });

  test("a top level that is not an object", () => {
    const dir = folder({ "vm.json": [1, 2] });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: expected a JSON object of options, got [1,2]`,
    );
  });

  test("a missing file", () => {
    const dir = folder({});
    const error = loadError(join(dir, "nope.json"));
    expect([error.message, error.exitCode]).toEqual([
      `${join(dir, "nope.json")}: cannot read the configuration file (ENOENT)`,
      EXIT_INVALID_ARGS,
    ]);
  });

  test("a missing included file is named as found from the including file", () => {
    const dir = folder({ "vm.json": { cfg: ["gone.json"] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "gone.json")}: cannot read the configuration file (ENOENT)`,
    );
  });

  test("bad JSON names the file", () => {
    const dir = folder({ "vm.json": '{ "kernel": "/k", }' });
    expect(loadError(join(dir, "vm.json")).message).toStartWith(`${join(dir, "vm.json")}: invalid JSON: `);
  });

  test("an include cycle is refused with the chain", () => {
    const dir = folder({ "a.json": { cfg: ["b.json"] }, "b.json": { cfg: ["a.json"] } });
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    expect(loadError(a).message).toBe(`${b}: include cycle: ${a} -> ${b} -> ${a}`);
  });

  test("a file including itself is a cycle", () => {
    const dir = folder({ "a.json": { cfg: ["./a.json"] } });
    const a = join(dir, "a.json");
    expect(loadError(a).message).toBe(`${a}: include cycle: ${a} -> ${join(dir, "./a.json")}`);
  });
});

describe("arrays where objects belong", () => {
  test("a block device given as a list is refused", () => {
    const dir = folder({ "vm.json": { block: [["a.img"]] } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0]: expected an object, got ["a.img"]`,
    );
  });
});

describe("hostile files (found by the cfg_files fuzz target)", () => {
  test("a list nested 200,000 deep where an object belongs is refused, shown cut", () => {
    const dir = folder({ "vm.json": `{"mem": ${"[".repeat(200_000)}${"]".repeat(200_000)}}` });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: mem: expected an object such as {"size": 2048}, got [[[[...]]]]`,
    );
  });

  test("a megabyte string where a list belongs is shown cut to 100 characters", () => {
    const dir = folder({ "vm.json": { params: "x".repeat(1_000_000) } });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: params: expected a list of strings, got "${"x".repeat(100)}..."`,
    );
  });

  test("a key given twice is refused, naming it", () => {
    const dir = folder({ "vm.json": '{"net": [{"tap-name": "a"}], "net": [{"tap-name": "b"}]}' });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: net: given more than once (expected each key once)`,
    );
  });

  test("a key given twice inside a list's object is named with its path", () => {
    const dir = folder({ "vm.json": '{"block": [{"path": "a.img", "ro": true, "ro": false}]}' });
    expect(loadError(join(dir, "vm.json")).message).toBe(
      `${join(dir, "vm.json")}: block[0].ro: given more than once (expected each key once)`,
    );
  });
});
