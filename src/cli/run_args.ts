// The options of `crosvm run` as given, before defaults: one layer per --cfg file and one for the command line.
// Layers merge as crosvm's RunCommand did (`#[merge(strategy = overwrite_option)]` / `append`, src/crosvm/
// cmdline.rs before the config-file feature was removed): a single-valued option given by a later layer replaces
// the earlier one, a list is extended.
import type { BlockArgs, CpusArgs, MemArgs, SerialArgs } from "./option_specs.ts";

export interface RunArgs {
  kernel?: string;
  bios?: string;
  initrd?: string;
  mem?: MemArgs;
  cpus?: CpusArgs;
  socket?: string;
  pivotRoot?: string;
  noRng?: boolean;
  pvpanic?: boolean;
  disableSandbox?: boolean;
  seccompLogFailures?: boolean;
  params: string[];
  serial: SerialArgs[];
  block: BlockArgs[];
}

const SINGLE_KEYS = [
  "kernel",
  "bios",
  "initrd",
  "mem",
  "cpus",
  "socket",
  "pivotRoot",
  "noRng",
  "pvpanic",
  "disableSandbox",
  "seccompLogFailures",
] as const satisfies readonly (keyof RunArgs)[];

export function emptyRunArgs(): RunArgs {
  return { params: [], serial: [], block: [] };
}

/** `later` applied over `base`: single values replaced, lists appended. Neither input is modified. */
export function mergeRunArgs(base: RunArgs, later: RunArgs): RunArgs {
  const out: RunArgs = {
    ...base,
    params: [...base.params],
    serial: [...base.serial],
    block: [...base.block],
  };
  for (const key of SINGLE_KEYS) {
    if (later[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = later[key];
  }
  out.params.push(...later.params);
  out.serial.push(...later.serial);
  out.block.push(...later.block);
  return out;
}
