// Listens on argv[2], then exits the process without closing the server (as a VM ending with process.exit).
import { ControlServer } from "../../../src/vm_control/server.ts";

const server = ControlServer.listen(process.argv[2]!, { handle: async () => ({ kind: "Ok" }) });
console.log(server.path);
process.exit(0);
