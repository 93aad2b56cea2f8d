// Walks the option tables: every option of `crosvm run` parses from the command line and from a --cfg file to the
// same VmConfig, changes the VM from the defaults, and shows in help; every global option shows in `crosvm --help`
// and is scanned before the command. An option added to a table is covered here without a new test.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../../src/cli/cli.ts";
import { defineCrosvmCommand } from "../../../src/cli/commands/command.ts";
import { GLOBAL_OPTIONS } from "../../../src/cli/global_options.ts";
import { renderRootHelp, renderRunHelp } from "../../../src/cli/help.ts";
import { formsOf, type AnyEntry } from "../../../src/cli/option_table.ts";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import { RUN_OPTIONS } from "../../../src/cli/run_options.ts";
import { keysOf } from "../../../src/cli/schema_shape.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";
import { capture } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "crosvm-table-"));
let files = 0;

function writeCfg(json: unknown): string {
  const path = join(dir, `cfg-${files++}.json`);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

function config(argv: string[]): VmConfig {
  const parsed = parseRunConfig(argv, { extendedStatus: false });
  if (parsed.help) throw new Error("help requested");
  return parsed.config;
}

/** The executable every VM needs, unless the option is the executable itself, and what the example goes with. */
function baseArgv(key: string): string[] {
  const companions = (RUN_OPTIONS as Record<string, AnyEntry>)[key]?.exampleWith ?? [];
  return [...(key === "kernel" || key === "bios" ? [] : ["/k"]), ...companions];
}

/** The option's example value on the command line; --cfg's is a file that sets 1 GiB. */
function example(key: string, entry: AnyEntry): string | undefined {
  if (key === "cfg") return writeCfg({ mem: { size: 1024 } });
  return entry.example;
}

/** The option given on the command line by `name` (with its value, for an option that takes one). */
function commandLine(name: string, entry: AnyEntry, value: string | undefined): string[] {
  return entry.argName === undefined ? [name] : [name, value!];
}

/** The JSON a file gives for `value` of the option under `key`. */
function fileValue(entry: AnyEntry, value: unknown): unknown {
  return entry.repeatable ? [value] : value;
}

const runEntries = Object.entries(RUN_OPTIONS) as [string, AnyEntry][];

describe("every option of crosvm run", () => {
  for (const [key, entry] of runEntries) {
    describe(`--${key}`, () => {
      test("has an example value when it takes one", () => {
        expect(entry.argName === undefined || example(key, entry) !== undefined).toBe(true);
      });

      test("parses from the command line and from a --cfg file to the same VmConfig", () => {
        const text = example(key, entry);
        const value = entry.argName === undefined ? true : entry.decode(text!, `--${key}`);
        const fromCommandLine = config([...baseArgv(key), ...commandLine(`--${key}`, entry, text)]);
        const fromFile = config([...baseArgv(key), "--cfg", writeCfg({ [key]: fileValue(entry, value) })]);
        expect(fromFile).toEqual(fromCommandLine);
      });

      test("changes the VM from the defaults", () => {
        const text = example(key, entry);
        const given = config([...baseArgv(key), ...commandLine(`--${key}`, entry, text)]);
        const other = key === "kernel" ? ["--bios", "/fw.img"] : key === "bios" ? ["/k"] : ["/k"];
        expect(given).not.toEqual(config(other));
      });

      if (entry.short !== undefined)
        test(`-${entry.short} is the same as --${key}`, () => {
          const text = example(key, entry);
          expect(config([...baseArgv(key), ...commandLine(`-${entry.short}`, entry, text)])).toEqual(
            config([...baseArgv(key), ...commandLine(`--${key}`, entry, text)]),
          );
        });

      test("shows in crosvm run --help with its short form and every key", () => {
        const help = renderRunHelp();
        const names = entry.short === undefined ? `--${key}` : `-${entry.short}, --${key}`;
        expect(help).toContain(`\n  ${names}`);
        for (const k of entry.keyValues === undefined ? [] : keysOf(entry.keyValues))
          expect(help).toContain(`    ${k}=`);
      });

      for (const form of entry.deprecated ?? [])
        test(`its deprecated form --${form.long} is --${key} with ${form.fixedKeys.join(", ")} fixed`, () => {
          const text = example(key, entry)!;
          const adjusted = form.adjust(entry.decode(text, `--${form.long}`));
          const fromForm = config([...baseArgv(key), `--${form.long}`, text]);
          const fromFile = config([
            ...baseArgv(key),
            "--cfg",
            writeCfg({ [key]: fileValue(entry, adjusted) }),
          ]);
          expect(fromForm).toEqual(fromFile);
          const names = form.short === undefined ? `--${form.long}` : `-${form.short}, --${form.long}`;
          expect(renderRunHelp()).toContain(`\n  ${names}`);
        });
    });
  }

  test("every name of the table is distinct", () => {
    const names = formsOf(RUN_OPTIONS).flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("every global option of crosvm", () => {
  const seen: unknown[] = [];
  const probe = defineCrosvmCommand({
    meta: { name: "probe", description: "Records the global options." },
    run({ data }) {
      seen.push(data);
    },
  });
  const examples: Record<string, string[]> = {
    "extended-status": ["--extended-status"],
    "log-level": ["--log-level", "info"],
  };

  for (const [key, entry] of Object.entries(GLOBAL_OPTIONS) as [string, AnyEntry][]) {
    test(`--${key} shows in crosvm --help`, () => {
      const help = renderRootHelp({ name: "crosvm", description: "crosvm" }, []);
      expect(help).toContain(`\n  --${key}`);
      expect(help).toContain(entry.argName === undefined ? `[--${key}]` : `[--${key} <${entry.argName}>]`);
    });

    test(`--${key} is taken before the command`, async () => {
      const io = capture();
      const status = await runCli([...examples[key]!, "probe"], { probe }, io);
      expect([status, io.stderr]).toEqual([0, ""]);
    });
  }

  test("--extended-status reaches the command", async () => {
    seen.length = 0;
    await runCli(["--extended-status", "probe"], { probe }, capture());
    expect(seen).toEqual([{ extendedStatus: true }]);
  });

  test("a global option given twice is refused", async () => {
    const io = capture();
    const status = await runCli(["--log-level", "info", "--log-level", "warn", "probe"], { probe }, io);
    expect([status, io.stderr]).toEqual([
      35,
      "--log-level: given more than once (it takes a single value)\n",
    ]);
  });
});
