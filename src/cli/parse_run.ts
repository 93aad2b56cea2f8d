// `crosvm run` arguments to a VmConfig (spec: "Combining configuration files and command-line options"): the
// --cfg files merge in order of appearance, then the rest of the command line merges last wherever it stands
// relative to --cfg, replacing single values and extending lists.
import type { VmConfig } from "../vmm/config.ts";
import { buildVmConfig } from "./build_config.ts";
import { loadConfigFile } from "./cfg.ts";
import { emptyArgs, mergeArgs } from "./option_table.ts";
import { RUN_OPTIONS } from "./run_options.ts";
import { scanRunArgv } from "./run_scan.ts";

export interface GlobalOptions {
  /** crosvm --extended-status: exit with the VM's CommandStatus (32 reset, 33 crash, 34 guest panic...). */
  readonly extendedStatus: boolean;
}

export type RunParse =
  | { readonly help: true }
  | {
      readonly help: false;
      readonly config: VmConfig;
      /** Warnings for the deprecated option forms used (crosvm warns about --disk and friends). */
      readonly warnings: readonly string[];
    };

/** Parses the arguments after `run`. Throws CliError (ArgumentError: exit 35, ConfigError: exit 1). */
export function parseRunConfig(argv: readonly string[], globals: GlobalOptions): RunParse {
  const scan = scanRunArgv(argv);
  if (scan.help) return scan;
  let merged = emptyArgs(RUN_OPTIONS);
  for (const { value: file } of scan.args.cfg) merged = mergeArgs(RUN_OPTIONS, merged, loadConfigFile(file));
  merged = mergeArgs(RUN_OPTIONS, merged, { ...scan.args, cfg: [] });
  return { help: false, config: buildVmConfig(merged, globals), warnings: scan.warnings };
}
