import { describe, expect, test } from "bun:test";
import { ArgumentError, EXIT_INVALID_ARGS } from "../../../src/cli/errors.ts";
import { decodeKeyValues, parseIntegerText } from "../../../src/cli/keyvalue.ts";
import { blockSpec, cpusSpec, memSpec, serialSpec } from "../../../src/cli/option_specs.ts";

const block = (s: string) => decodeKeyValues(blockSpec, s);

describe("decoding --block (spec: Command-line options)", () => {
  test("the spec's short form gives path, root and block size", () => {
    expect(block("/path/to/bzImage,root,block-size=4096")).toMatchObject({
      path: "/path/to/bzImage",
      root: true,
      "block-size": 4096,
    });
  });

  test("the spec's long form gives the same result as the short form", () => {
    expect(block("path=/path/to/bzImage,root=true,block-size=4096")).toEqual(
      block("/path/to/bzImage,root,block-size=4096"),
    );
  });

  test("keys left out take crosvm's defaults", () => {
    expect(block("/d.img")).toEqual({
      path: "/d.img",
      ro: false,
      root: false,
      sparse: true,
      "block-size": 512,
      direct: false,
      lock: true,
    });
  });

  test("block_size and o_direct are accepted as crosvm's aliases", () => {
    expect(block("/d.img,block_size=4096,o_direct=true")).toMatchObject({ "block-size": 4096, direct: true });
  });

  test("a quoted path keeps its commas", () => {
    expect(block('"/a,b.img",ro').path).toBe("/a,b.img");
  });

  test("bool=false turns a default-true key off", () => {
    expect(block("/d.img,sparse=false").sparse).toBe(false);
  });

  test("an id of 20 printable characters is accepted", () => {
    expect(block("/d.img,id=ABCDEFGHIJ0123456789").id).toBe("ABCDEFGHIJ0123456789");
  });
});

describe("--block errors name the option, the key and what was expected", () => {
  const message = (s: string) => {
    try {
      block(s);
    } catch (e) {
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as ArgumentError).exitCode).toBe(EXIT_INVALID_ARGS);
      return (e as Error).message;
    }
    throw new Error(`"${s}" was accepted`);
  };

  test("a block size that is not a power of two", () => {
    expect(message("/d.img,block-size=1000")).toBe(
      '--block: key "block-size" expects a power of two >= 512, got "1000"',
    );
  });

  test("a block size below 512", () => {
    expect(message("/d.img,block-size=256")).toBe(
      '--block: key "block-size" expects a power of two >= 512, got "256"',
    );
  });

  test("an unknown key", () => {
    expect(message("/d.img,cache=none")).toBe(
      '--block: unknown key "cache" (expected one of: path, ro, root, sparse, block-size, id, direct, lock)',
    );
  });

  test("a key given twice", () => {
    expect(message("/d.img,ro,ro=false")).toBe('--block: key "ro" is given more than once');
  });

  test("a key and its alias given together", () => {
    expect(message("/d.img,block-size=512,block_size=4096")).toBe(
      '--block: key "block-size" is given more than once',
    );
  });

  test("a bad number", () => {
    expect(message("/d.img,block-size=4k")).toBe(
      '--block: key "block-size" expects a power of two >= 512, got "4k"',
    );
  });

  test("a bad bool", () => {
    expect(message("/d.img,ro=yes")).toBe(
      '--block: key "ro" expects a boolean (true or false, or the bare key for true), got "yes"',
    );
  });

  test("an empty value names the missing path", () => {
    expect(message("")).toBe('--block: key "path" is required');
  });

  test("an id longer than 20 characters", () => {
    expect(message("/d.img,id=ABCDEFGHIJ0123456789X")).toBe(
      '--block: key "id" expects up to 20 printable ASCII characters, got "ABCDEFGHIJ0123456789X"',
    );
  });

  test("an id with a non-ASCII character", () => {
    expect(message("/d.img,id=disk\u00e9")).toContain('--block: key "id" expects up to 20 printable ASCII');
  });

  test("a string key given as a bare flag", () => {
    expect(message("ro,path")).toBe('--block: key "path" expects a value, got no value');
  });

  test("a syntax error gives the position", () => {
    expect(message('/d.img,id=a"b')).toBe(
      `--block: invalid value "/d.img,id=a\\"b": " and ' can only be used in quoted strings at position 11`,
    );
  });
});

describe("crosvm integers", () => {
  test("decimal, hex, octal and binary forms are read", () => {
    expect([
      parseIntegerText("4096"),
      parseIntegerText("0x402"),
      parseIntegerText("0o17"),
      parseIntegerText("0b101"),
    ]).toEqual([4096, 0x402, 0o17, 5]);
  });

  test("a negative number is read", () => {
    expect(parseIntegerText("-3")).toBe(-3);
  });

  test("digits outside the radix are refused", () => {
    expect(parseIntegerText("0x1g")).toBeUndefined();
  });

  test("a number beyond 2^53 is refused", () => {
    expect(parseIntegerText("9007199254740993")).toBeUndefined();
  });
});

describe("the other key=value options", () => {
  test("--mem takes a bare number as size", () => {
    expect(decodeKeyValues(memSpec, "2048")).toEqual({ size: 2048 });
  });

  test("--mem takes size=", () => {
    expect(decodeKeyValues(memSpec, "size=2048")).toEqual({ size: 2048 });
  });

  test("--cpus takes a bare number as num-cores", () => {
    expect(decodeKeyValues(cpusSpec, "8")).toEqual({ "num-cores": 8 });
  });

  test('a key named like a property of every JavaScript object is unknown, not "given more than once" (found by the run_options fuzz target)', () => {
    expect(() => decodeKeyValues(memSpec, "constructor=1")).toThrow(
      '--mem: unknown key "constructor" (expected one of: size)',
    );
  });

  test("--cpus refuses zero cores", () => {
    expect(() => decodeKeyValues(cpusSpec, "num-cores=0")).toThrow(
      '--cpus: key "num-cores" expects a vCPU count from 1 to 255, got "0"',
    );
  });

  test("--serial takes the type as its first value", () => {
    expect(decodeKeyValues(serialSpec, "stdout,hardware=virtio-console,console,stdin")).toMatchObject({
      type: "stdout",
      hardware: "virtio-console",
      console: true,
      stdin: true,
    });
  });

  test("--serial defaults follow crosvm's SerialParameters", () => {
    expect(decodeKeyValues(serialSpec, "")).toEqual({
      type: "sink",
      hardware: "serial",
      num: 1,
      console: false,
      earlycon: false,
      stdin: false,
      "debugcon-port": 0x402,
    });
  });

  test("--serial accepts debugcon_port as an alias with a hex value", () => {
    expect(decodeKeyValues(serialSpec, "hardware=debugcon,debugcon_port=0xe9")["debugcon-port"]).toBe(0xe9);
  });

  test("--serial refuses an unknown type with the accepted ones", () => {
    expect(() => decodeKeyValues(serialSpec, "type=tty")).toThrow(
      '--serial: key "type" expects one of stdout, file, sink, syslog, unix, got "tty"',
    );
  });
});
