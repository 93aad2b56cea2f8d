// Errors of the command line, with the exit status crosvm uses for each kind (crosvm src/main.rs `CommandStatus`):
// an argument that does not parse (unknown option, bad key=value, bad --cfg file) exits with InvalidArgs = 35
// whether or not --extended-status is given, as crosvm's argh parsing does; a configuration that parses but is
// inconsistent (two root disks, two serial ports with one number, no kernel) exits with 1, as crosvm's
// `Config::try_from` errors do.

import { escapeControlCharacters } from "../base/printable.ts";

/** crosvm `CommandStatus::InvalidArgs`. */
export const EXIT_INVALID_ARGS = 35;
/** crosvm's exit status for any other error (src/sys/linux/main.rs `error_to_exit_code`). */
export const EXIT_FAILURE = 1;

/** An error the command line prints as one line; control characters of the input it quotes are escaped. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(escapeControlCharacters(message));
  }
}

/** An option, key or --cfg file that does not parse. */
export class ArgumentError extends CliError {
  constructor(message: string) {
    super(message, EXIT_INVALID_ARGS);
  }
}

/** Options that parse but do not make a valid VM together. */
export class ConfigError extends CliError {
  constructor(message: string) {
    super(message, EXIT_FAILURE);
  }
}
