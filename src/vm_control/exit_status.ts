// crosvm's process exit codes: CommandStatus in crosvm src/main.rs (#[repr(i32)]), and how a VM's end maps to one.
//
// crosvm exits with 0 for every VM end (stop, reset, crash, ...) unless --extended-status is given; then the VM's
// exit state picks the code below. Argument parsing failures exit with InvalidArgs (35) with or without
// --extended-status (crosvm returns it before applying the flag), and any other error exits with 1
// (error_to_exit_code in src/sys/linux/main.rs).

export const CommandStatus = {
  /** Exit with success. Also used to mean VM stopped successfully. */
  SuccessOrVmStop: 0,
  /** VM requested reset. */
  VmReset: 32,
  /** VM crashed. */
  VmCrash: 33,
  /** VM exit due to kernel panic in guest. */
  GuestPanic: 34,
  /** Invalid argument was given to crosvm. */
  InvalidArgs: 35,
  /** VM exit due to vcpu stall detection. */
  WatchdogReset: 36,
} as const;

export type CommandStatusName = keyof typeof CommandStatus;
export type CommandStatusCode = (typeof CommandStatus)[CommandStatusName];

/** The exit code for a command that failed with an error (not an argument error), as crosvm on Linux. */
export const ERROR_EXIT_CODE = 1;

/** crosvm's log line for each status (CommandStatus::message). */
export const COMMAND_STATUS_MESSAGE: Readonly<Record<CommandStatusName, string>> = {
  SuccessOrVmStop: "exiting with success",
  VmReset: "exiting with reset",
  VmCrash: "exiting with crash",
  GuestPanic: "exiting with guest panic",
  InvalidArgs: "invalid argument",
  WatchdogReset: "exiting with watchdog reset",
};

/** How a VM's run loop ended (crosvm sys::ExitState). */
export type ExitState = "Stop" | "Reset" | "Crash" | "GuestPanic" | "WatchdogReset";

const STATUS_FOR_EXIT_STATE: Readonly<Record<ExitState, CommandStatusName>> = {
  Stop: "SuccessOrVmStop",
  Reset: "VmReset",
  Crash: "VmCrash",
  GuestPanic: "GuestPanic",
  WatchdogReset: "WatchdogReset",
};

/** The CommandStatus for a VM end (crosvm `impl From<ExitState> for CommandStatus`). */
export function commandStatusFor(state: ExitState): CommandStatusName {
  return STATUS_FOR_EXIT_STATE[state];
}

/** The process exit code for a VM end: the extended code with --extended-status, else 0 (as crosvm_main). */
export function exitCodeFor(state: ExitState, extendedStatus: boolean): number {
  return extendedStatus ? CommandStatus[commandStatusFor(state)] : CommandStatus.SuccessOrVmStop;
}
