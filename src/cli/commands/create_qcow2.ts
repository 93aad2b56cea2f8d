// `crosvm create_qcow2 PATH [SIZE] [--backing-file FILE]` (crosvm's CreateQcow2Command): creates an empty qcow2
// image of SIZE bytes, or an overlay on FILE with FILE's size; exactly one of the two is given. Exit status 0, or
// one line on stderr and 1 for a file that cannot be created or read, 35 for bad arguments.
import { DiskError } from "../../disk/disk_file.ts";
import { createQcow2, createQcow2Overlay } from "../../disk/qcow2/create.ts";
import { CommandStatus, ERROR_EXIT_CODE } from "../../vm_control/exit_status.ts";
import { ControlArgumentError, parseUnsigned } from "../control/run_control.ts";
import { writeErr } from "../output.ts";
import { defineCrosvmCommand } from "./command.ts";

export const createQcow2Command = defineCrosvmCommand({
  meta: { name: "create_qcow2", description: "Create Qcow2 image given path and size" },
  args: {
    PATH: { type: "positional", description: "path to the new qcow2 file to create", required: true },
    SIZE: {
      type: "positional",
      description: "desired size of the image in bytes; required if not using --backing-file",
      required: false,
    },
    "backing-file": {
      type: "string",
      description:
        "path to backing file; if specified, the image will be the same size as the backing file, and SIZE may not be specified",
    },
  },
  async run({ args }) {
    try {
      const backing = args["backing-file"];
      if (backing !== undefined && args.SIZE !== undefined)
        throw new ControlArgumentError("SIZE may not be given together with --backing-file");
      if (backing === undefined && args.SIZE === undefined)
        throw new ControlArgumentError("SIZE is required unless --backing-file is given");
      if (backing !== undefined) createQcow2Overlay(args.PATH, backing);
      else createQcow2(args.PATH, parseUnsigned(args.SIZE!, "SIZE"));
      return CommandStatus.SuccessOrVmStop;
    } catch (e) {
      if (e instanceof ControlArgumentError) {
        await writeErr(`crosvm create_qcow2: ${e.message}\n`);
        return CommandStatus.InvalidArgs;
      }
      if (e instanceof DiskError) {
        await writeErr(`crosvm create_qcow2: ${e.message}\n`);
        return ERROR_EXIT_CODE;
      }
      throw e;
    }
  },
});
