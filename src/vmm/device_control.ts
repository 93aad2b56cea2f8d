// Control-socket requests for devices (crosvm's DiskCommand to DISK_INDEX, ...): a device kind with a `control`
// hook joins the hook's group, numbered from 0 in attach order, and the hook carries the request out.
import type {
  ControlledDevice,
  DeviceControlReply,
  DeviceControlRequest,
  DeviceKindControl,
} from "../devices/virtio/kind.ts";

interface Member {
  readonly hook: DeviceKindControl<unknown>;
  readonly options: unknown;
  readonly device: ControlledDevice;
}

export class DeviceControlGroups {
  readonly #groups = new Map<string, Member[]>();

  /** Adds a device whose kind has `hook`; call in attach order. */
  add(hook: DeviceKindControl<unknown>, options: unknown, device: ControlledDevice): void {
    const members = this.#groups.get(hook.group) ?? [];
    members.push({ hook, options, device });
    this.#groups.set(hook.group, members);
  }

  /** How many devices `group` has. */
  count(group: string): number {
    return this.#groups.get(group)?.length ?? 0;
  }

  /** Sends `request` to device `index` of `group`; resolves with the hook's reply, rejects with a one-line reason. */
  async request(group: string, index: number, request: DeviceControlRequest): Promise<DeviceControlReply> {
    const members = this.#groups.get(group) ?? [];
    const member = members[index];
    if (!member) throw new Error(`no ${group} ${index} (the VM has ${members.length})`);
    return (await member.hook.handle(member.options, request, member.device)) ?? undefined;
  }
}
