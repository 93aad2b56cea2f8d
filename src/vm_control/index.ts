// The package's control API (the analogue of crosvm's vm_control + crosvm_control crates): the wire protocol,
// a client function per request, the server a VM runs, and crosvm's exit codes.
export * from "./client.ts";
export * from "./exit_status.ts";
export * from "./protocol.ts";
export {
  ControlServer,
  ControlServerError,
  type ControlServerOptions,
  type VmControlHandler,
} from "./server.ts";
export { resolveSocketPath } from "./socket_path.ts";
