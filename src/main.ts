// The crosvm executable: `crosvm [--log-level SPEC] [--extended-status] <command> [<args>]`.
// `crosvm device-process KIND SPEC` is the hidden entry of a sandboxed device (src/jail/device_process); it is
// dispatched before the CLI is loaded so that a device process carries as little code as possible.
export {};
if (process.argv[2] === "device-process") {
  const { runDeviceProcess } = await import("./jail/device_process/host.ts");
  process.exit(await runDeviceProcess(process.argv.slice(3)));
}
const { runCli } = await import("./cli/cli.ts");
process.exit(await runCli(process.argv.slice(2)));
