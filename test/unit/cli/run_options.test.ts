import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_FAILURE, EXIT_INVALID_ARGS } from "../../../src/cli/errors.ts";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import { runConfig as config, runRefusal as failure } from "./helpers.ts";

describe("defaults (spec: Defaults)", () => {
  test("memory is 256 MiB", () => {
    expect(config("bzImage").memMib).toBe(256);
  });

  test("there is one vCPU", () => {
    expect(config("bzImage").cpus).toBe(1);
  });

  test("there are no block devices and no extra kernel parameters", () => {
    const c = config("bzImage");
    expect([c.disks, c.params]).toEqual([[], []]);
  });

  test("the RNG is present, the sandbox enabled and there is no control socket", () => {
    const c = config("bzImage");
    expect([c.rng, c.disableSandbox, c.socket, c.seccompLogFailures]).toEqual([
      true,
      false,
      undefined,
      false,
    ]);
  });

  test("COM1 is a console on stdout with stdin, and COM2-COM4 are sinks", () => {
    expect(config("bzImage").serials.map((s) => [s.num, s.type, s.console, s.stdin])).toEqual([
      [1, "stdout", true, true],
      [2, "sink", false, false],
      [3, "sink", false, false],
      [4, "sink", false, false],
    ]);
  });

  test("a virtio-console console leaves COM1 a sink", () => {
    const serials = config("--serial", "stdout,hardware=virtio-console,console,stdin", "bzImage").serials;
    expect(serials.map((s) => `${s.hardware}${s.num}:${s.type}`)).toEqual([
      "serial1:sink",
      "serial2:sink",
      "serial3:sink",
      "serial4:sink",
      "virtio-console1:stdout",
    ]);
  });

  test("an explicit COM1 without console keeps its settings and no console is added", () => {
    const serials = config("--serial", "type=file,path=/tmp/com1.log", "bzImage").serials;
    expect(serials[0]).toMatchObject({
      num: 1,
      type: "file",
      path: "/tmp/com1.log",
      console: false,
      stdin: false,
    });
    expect(serials.some((s) => s.console)).toBe(false);
  });

  test("an explicit COM2 console leaves COM1 a sink", () => {
    const serials = config("--serial", "stdout,num=2,console", "bzImage").serials;
    expect(serials.map((s) => [s.num, s.type, s.console])).toEqual([
      [1, "sink", false],
      [2, "stdout", true],
      [3, "sink", false],
      [4, "sink", false],
    ]);
  });
});

describe("serial hardware", () => {
  test("legacy-virtio-console is crosvm's alias of virtio-console", () => {
    const serials = config("--serial", "stdout,hardware=legacy-virtio-console,console", "k").serials;
    expect(serials.at(-1)).toMatchObject({ hardware: "virtio-console", console: true });
  });

  test("a debugcon port keeps its I/O port", () => {
    const serials = config("--serial", "stdout,hardware=debugcon,debugcon-port=0xe9", "k").serials;
    expect(serials.find((s) => s.hardware === "debugcon")).toMatchObject({
      type: "stdout",
      debugconPort: 0xe9,
    });
  });

  test("--scsi-block keys: path first, ro, root, block_size alias, lock", () => {
    expect(config("--scsi-block", "/s.img,ro,root,block_size=4096,lock=false", "k").scsiDisks).toEqual([
      { path: "/s.img", ro: true, root: true, blockSize: 4096, lock: false },
    ]);
  });

  test("a --block root and a --scsi-block root are two root disks", () => {
    expect(failure("--block", "a.img,root", "--scsi-block", "b.img,root", "k").message).toBe(
      "--block and --scsi-block: only one root disk can be specified",
    );
  });

  test("--scsi-block refuses a block size that is not a power of two, naming the key", () => {
    expect(failure("--scsi-block", "a.img,block-size=1000", "k").message).toContain("block-size");
  });

  test("--root and --rwroot together are two root disks, named as given", () => {
    expect(failure("--root", "a.img", "--rwroot", "b.img", "k").message).toBe(
      "--root and --rwroot: only one root disk can be specified",
    );
  });
});

describe("command-line forms", () => {
  test("the positional KERNEL is the kernel", () => {
    expect(config("/boot/bzImage").kernel).toBe("/boot/bzImage");
  });

  test("--kernel is the kernel", () => {
    expect(config("--kernel", "/boot/bzImage").kernel).toBe("/boot/bzImage");
  });

  test("-m and -c take bare numbers", () => {
    const c = config("-m", "2048", "-c", "4", "k");
    expect([c.memMib, c.cpus]).toEqual([2048, 4]);
  });

  test("--mem=size=N and --cpus=num-cores=N take the key form after =", () => {
    const c = config("--mem=size=1024", "--cpus=num-cores=2", "k");
    expect([c.memMib, c.cpus]).toEqual([1024, 2]);
  });

  test("-p=VALUE keeps everything after the first =", () => {
    expect(config("-p=init=/bin/sh", "k").params).toEqual(["init=/bin/sh"]);
  });

  test("repeated -p are appended in order", () => {
    expect(config("-p", "console=ttyS0", "--params", "quiet", "-p", "init=/bin/sh", "k").params).toEqual([
      "console=ttyS0",
      "quiet",
      "init=/bin/sh",
    ]);
  });

  test("repeated --block give disks in order", () => {
    expect(config("--block", "a.img", "-b", "b.img,ro", "k").disks.map((d) => [d.path, d.ro])).toEqual([
      ["a.img", false],
      ["b.img", true],
    ]);
  });

  test("a disk keeps every --block key", () => {
    expect(config("-b", "/d.img,ro,sparse=false,block-size=4096,id=SERIAL1,direct", "k").disks[0]).toEqual({
      path: "/d.img",
      ro: true,
      root: false,
      sparse: false,
      blockSize: 4096,
      id: "SERIAL1",
      direct: true,
      lock: true,
    });
  });

  test("-i, --bios-free kernel boot, -s, --pivot-root and the switches land in the config", () => {
    const c = config(
      "-i",
      "initrd.img",
      "-s",
      "/run/vm.sock",
      "--pivot-root",
      "/var/empty",
      "--no-rng",
      "--disable-sandbox",
      "--seccomp-log-failures",
      "k",
    );
    expect([c.initrd, c.socket, c.pivotRoot, c.rng, c.disableSandbox, c.seccompLogFailures]).toEqual([
      "initrd.img",
      "/run/vm.sock",
      "/var/empty",
      false,
      true,
      true,
    ]);
  });

  test("--pvpanic adds the pvpanic device; without it there is none, as in crosvm", () => {
    expect(config("--pvpanic", "k").pvpanic).toBe(true);
    expect(config("k").pvpanic).toBe(false);
  });

  test("--bios alone is an executable", () => {
    const c = config("--bios", "flat.img");
    expect([c.bios, c.kernel]).toEqual(["flat.img", undefined]);
  });

  test("a socket path naming a folder gets crosvm-PID.sock inside it", () => {
    const dir = mkdtempSync(join(tmpdir(), "crosvm-cli-"));
    expect(config("-s", dir, "k").socket).toBe(join(dir, `crosvm-${process.pid}.sock`));
  });

  test("--extended-status reaches the config", () => {
    const parsed = parseRunConfig(["k"], { extendedStatus: true });
    expect(!parsed.help && parsed.config.extendedStatus).toBe(true);
  });

  test("--help anywhere asks for help", () => {
    expect(parseRunConfig(["-m", "512", "--help", "k"], { extendedStatus: false }).help).toBe(true);
  });

  test("a value after -- is the positional KERNEL even if it starts with -", () => {
    expect(config("--", "-kernel-").kernel).toBe("-kernel-");
  });
});

describe("root disks", () => {
  test("a root disk is marked root and leaves the kernel parameters to the boot code", () => {
    const c = config("-p", "quiet", "-b", "home.img", "-b", "root.img,root", "k");
    expect([c.params, c.disks.map((d) => d.root)]).toEqual([["quiet"], [false, true]]);
  });

  test("a read-only root disk keeps ro", () => {
    expect(config("-b", "root.img,root,ro", "k").disks[0]).toMatchObject({ root: true, ro: true });
  });
});

describe("deprecated disk options (crosvm: use --block)", () => {
  test("--disk and -d are read-only, not root", () => {
    expect(config("--disk", "a.img", "-d", "b.img", "k").disks.map((d) => [d.ro, d.root])).toEqual([
      [true, false],
      [true, false],
    ]);
  });

  test("--rwdisk is read-write, not root", () => {
    expect(config("--rwdisk", "a.img", "k").disks[0]).toMatchObject({ ro: false, root: false });
  });

  test("--root and -r are a read-only root", () => {
    expect(config("-r", "root.img", "k").disks[0]).toMatchObject({ path: "root.img", ro: true, root: true });
  });

  test("--rwroot is a read-write root", () => {
    expect(config("--rwroot", "root.img", "k").disks[0]).toMatchObject({ ro: false, root: true });
  });

  test("the forced ro overrides a ro key given with --disk", () => {
    expect(config("--disk", "a.img,ro=false", "k").disks[0]!.ro).toBe(true);
  });

  test("deprecated and --block disks keep their command-line order", () => {
    expect(
      config("-b", "1.img", "--rwdisk", "2.img", "-b", "3.img", "--root", "4.img", "k").disks.map(
        (d) => d.path,
      ),
    ).toEqual(["1.img", "2.img", "3.img", "4.img"]);
  });

  test("the old keys block_size and o_direct work with --rwdisk", () => {
    expect(config("--rwdisk", "a.img,block_size=4096,o_direct=true", "k").disks[0]).toMatchObject({
      blockSize: 4096,
      direct: true,
    });
  });

  test("using one is reported so the run command can warn", () => {
    const parsed = parseRunConfig(["--rwdisk", "a.img", "k"], { extendedStatus: false });
    expect(!parsed.help && parsed.warnings).toEqual([
      "Deprecated disk flags such as --[rw]disk or --[rw]root are passed. Use --block instead.",
    ]);
  });

  test("an error in a deprecated option names that option", () => {
    expect(failure("--rwdisk", "a.img,block_size=3", "k").message).toBe(
      '--rwdisk: key "block-size" expects a power of two >= 512, got "3"',
    );
  });
});

describe("invalid command lines", () => {
  test("an unknown option is an argument error (exit 35)", () => {
    expect(failure("--frobnicate", "k")).toEqual({
      message: "--frobnicate: unknown option for crosvm run (see crosvm run --help)",
      exitCode: EXIT_INVALID_ARGS,
    });
  });

  test("an unknown short option is an argument error", () => {
    expect(failure("-z", "1", "k").message).toBe("-z: unknown option for crosvm run (see crosvm run --help)");
  });

  test("an option without its value names the value expected", () => {
    expect(failure("k", "--block").message).toBe(
      "--block: missing value (expected PATH[,key=value[,key=value[,...]]])",
    );
  });

  test("a single-valued option given twice is refused", () => {
    expect(failure("-m", "512", "--mem", "1024", "k").message).toBe(
      "--mem: given more than once (it takes a single value)",
    );
  });

  test("a switch given a value is refused", () => {
    expect(failure("--no-rng=false", "k").message).toBe('--no-rng: takes no value, got "false"');
  });

  test("two positional arguments are refused", () => {
    expect(failure("k1", "k2").message).toBe(
      'crosvm run: unexpected argument "k2" (the KERNEL is already k1)',
    );
  });

  test("--kernel together with a positional KERNEL is refused", () => {
    expect(failure("--kernel", "a", "b").message).toBe(
      "--kernel: given together with the positional KERNEL b",
    );
  });

  test("no kernel and no BIOS is a config error (exit 1)", () => {
    expect(failure("-m", "512")).toEqual({
      message: "crosvm run: executable is not specified (expected KERNEL, --kernel or --bios)",
      exitCode: EXIT_FAILURE,
    });
  });

  test("a kernel and a BIOS together are refused", () => {
    expect(failure("--bios", "fw.img", "k").message).toBe(
      "--bios: a VM executable was already specified (kernel k)",
    );
  });

  test("two root disks are refused", () => {
    expect(failure("-b", "a,root", "-b", "b,root", "k")).toEqual({
      message: "--block: only one root disk can be specified",
      exitCode: EXIT_FAILURE,
    });
  });

  test("two serial ports with the same hardware and num are refused", () => {
    expect(failure("--serial", "stdout,num=2", "--serial", "sink,num=2", "k").message).toBe(
      "--serial: serial device 2 is given more than once (num must be unique per hardware)",
    );
  });

  test("the same num on different hardware is accepted", () => {
    expect(
      config("--serial", "stdout,num=1", "--serial", "sink,hardware=virtio-console,num=1", "k").serials,
    ).toHaveLength(5);
  });

  test("two consoles are refused", () => {
    expect(failure("--serial", "stdout,console", "--serial", "sink,num=2,console", "k").message).toBe(
      "--serial: serial device 1 is already the console",
    );
  });

  test("two serial ports on stdin are refused", () => {
    expect(failure("--serial", "stdout,stdin", "--serial", "sink,num=2,stdin", "k").message).toBe(
      "--serial: serial device 1 already connected to standard input",
    );
  });

  test("two earlycons are refused", () => {
    expect(failure("--serial", "stdout,earlycon", "--serial", "sink,num=2,earlycon", "k").message).toBe(
      "--serial: serial device 1 already set as earlycon",
    );
  });

  test("earlycon on virtio-console is refused", () => {
    expect(failure("--serial", "stdout,hardware=virtio-console,earlycon", "k").message).toBe(
      '--serial: key "earlycon" expects false unless hardware=serial, got true',
    );
  });

  test("COM5 is refused", () => {
    expect(failure("--serial", "stdout,num=5", "k").message).toBe(
      '--serial: key "num" expects 1 to 4 for hardware=serial (COM1-COM4), got 5',
    );
  });

  test("type=file without a path is refused", () => {
    expect(failure("--serial", "file", "k").message).toBe(
      '--serial: key "path" expects a path for type=file, got nothing',
    );
  });

  test("stdin together with an input file is refused", () => {
    expect(failure("--serial", "stdout,stdin,input=/in", "k").message).toBe(
      '--serial: key "input" expects no input file when stdin is set, got "/in"',
    );
  });
});

describe("--gdb and --trace-file", () => {
  test("--gdb PORT and --trace-file PATH land in the config", () => {
    expect(config("--gdb", "1234", "--trace-file", "/tmp/t.json", "k")).toMatchObject({
      gdb: 1234,
      traceFile: "/tmp/t.json",
    });
  });

  test.each(["0", "65536", "12ab", "-1"])("--gdb %s is refused with one line", (port) => {
    expect(failure("--gdb", port, "k").message).toBe(
      `--gdb: expected a TCP port number 1..65535, got "${port}"`,
    );
  });
});

describe("hostile arguments (found by the run_options and cfg_files fuzz targets)", () => {
  test("an unknown option with a newline in its name is refused on one line, the newline shown as \\n", () => {
    expect(failure("--foo\nbar", "k").message).toBe(
      "--foo\\nbar: unknown option for crosvm run (see crosvm run --help)",
    );
  });

  test("an empty positional KERNEL is refused as --kernel's empty path is", () => {
    expect(failure("").message).toBe("KERNEL: expected a non-empty path");
  });

  test("an empty extra argument is named, quoted", () => {
    expect(failure("k", "").message).toBe('crosvm run: unexpected argument "" (the KERNEL is already k)');
  });

  test("a path Linux cannot open (PATH_MAX bytes or more) is refused without quoting it", () => {
    expect(failure("--kernel", `/${"x".repeat(4095)}`).message).toBe(
      "--kernel: expected a path shorter than 4096 bytes",
    );
  });

  test("a long --gdb value is shown cut", () => {
    expect(failure("--gdb", "9".repeat(5000), "k").message).toBe(
      `--gdb: expected a TCP port number 1..65535, got "${"9".repeat(100)}..."`,
    );
  });
});
