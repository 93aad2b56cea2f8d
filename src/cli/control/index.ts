// The control subcommands, for src/main.ts to add to the command tree: `crosvm stop|suspend|resume|powerbtn|
// balloon|balloon_stats|disk resize|virtio-net add|remove ... VM_SOCKET`. `crosvm version` is main's own.
import { balloon } from "./balloon.ts";
import { balloon_stats } from "./balloon_stats.ts";
import { disk } from "./disk.ts";
import { powerbtn } from "./powerbtn.ts";
import { resume } from "./resume.ts";
import { stop } from "./stop.ts";
import { suspend } from "./suspend.ts";
import { virtio_net } from "./virtio_net.ts";

export const controlCommands = {
  stop,
  suspend,
  resume,
  powerbtn,
  balloon,
  balloon_stats,
  disk,
  "virtio-net": virtio_net,
};
