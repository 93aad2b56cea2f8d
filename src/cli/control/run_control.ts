// What every control subcommand shares: its one-line error reporting and crosvm's exit codes. A command prints
// "crosvm <name>: <reason>" on stderr and returns its exit status from `run` (the contract of
// src/cli/commands/command.ts): 0 on success, 1 when the request failed (crosvm's error_to_exit_code), 35 =
// InvalidArgs for an argument that does not parse (as crosvm's argh errors).
import { ControlClientError } from "../../vm_control/client.ts";
import { CommandStatus, ERROR_EXIT_CODE } from "../../vm_control/exit_status.ts";
import { writeErr } from "../output.ts";

/** A command-line argument that is not what the command expects. */
export class ControlArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlArgumentError";
  }
}

/** Runs `action` for `crosvm <command>` and returns the exit status, reporting a failure in one line. */
export async function runControl(command: string, action: () => Promise<void>): Promise<number> {
  try {
    await action();
    return CommandStatus.SuccessOrVmStop;
  } catch (e) {
    if (e instanceof ControlArgumentError) {
      await writeErr(`crosvm ${command}: ${e.message}\n`);
      return CommandStatus.InvalidArgs;
    }
    if (e instanceof ControlClientError) {
      await writeErr(`crosvm ${command}: ${e.message}\n`);
      return ERROR_EXIT_CODE;
    }
    throw e;
  }
}

/**
 * A u64 argument as crosvm parses it (Rust's u64::from_str, through argh): decimal digits with an optional
 * leading "+", no unit suffix. Refused above 2^53 - 1, the largest integer this VMM carries exactly.
 */
export function parseUnsigned(value: string, name: string): number {
  if (!/^\+?[0-9]+$/.test(value)) {
    throw new ControlArgumentError(`${name}: expected a non-negative integer, got "${value}"`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ControlArgumentError(`${name}: ${value} is larger than ${Number.MAX_SAFE_INTEGER}`);
  }
  return n;
}
