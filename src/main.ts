// The crosvm executable: `crosvm [--log-level SPEC] [--extended-status] <command> [<args>]`.
// `crosvm device-process KIND SPEC` is the hidden entry of a sandboxed device (src/jail/device_process); it is
// dispatched before the CLI is loaded so that a device process carries as little code as possible: both are dynamic
// imports, which build.ts (code splitting) turns into separate chunks, so a device process never even parses the
// CLI and VMM code.
export {};
if (process.argv[2] === "device-process") {
  const { runDeviceProcess } = await import("./jail/device_process/host.ts");
  process.exit(await runDeviceProcess(process.argv.slice(3)));
}
const { runCli } = await import("./cli/cli.ts");
process.exit(await runCli(process.argv.slice(2)));
