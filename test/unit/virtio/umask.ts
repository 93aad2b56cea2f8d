// For the shared-directory servers' tests: a device process started from a shell has the shell's umask.

/** Runs `act` with the process umask set to 022, as a device process started from a shell has it. */
export function withUmask022(act: () => void): void {
  const old = process.umask(0o022);
  try {
    act();
  } finally {
    process.umask(old);
  }
}
