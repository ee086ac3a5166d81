// Lab and test use only.
// The fake node's method handlers, per mode. Each answer that differs across
// Talos versions comes from the node's profile (profiles.ts, where every
// behaviour names its upstream file and tag); the rest cite their source here.
import * as grpc from '@grpc/grpc-js';
import { ConfigParseError, fakeKubeconfig, kubeconfigArchive, type FakeEtcd, type ParsedConfig } from './cluster.js';
import type { Faults, FakeDisk, FakeNodeOptions } from './node.js';
import type { ApplyMode, Method, Profile, Refusal } from './profiles.js';
import { machineResources, resetWipeRefusal, resourceHandlers } from './resources.js';
import { extensionStatuses, runningSchematic } from './schematic.js';
import { k8sResources } from './k8s-static-pods.js';
import { hostnameStatus } from './hostname.js';
import { activeConfig, configuredApplyConfiguration } from './apply-config.js';
import { resetWipeTargets, wipeDiskImages } from './disk-images.js';

export type Handler = (call: any, cb?: grpc.sendUnaryData<unknown>) => void;

/** What the handlers need of the node. */
export interface NodeApi {
  readonly opts: FakeNodeOptions & { etcd: FakeEtcd };
  readonly profile: Profile;
  readonly config: ParsedConfig | undefined;
  readonly resets: unknown[];
  readonly applied: { data: Buffer; mode: string }[];
  readonly faults: Faults;
  parse(data: Buffer): ParsedConfig;
  accept(data: Buffer, mode: ApplyMode, parsed: ParsedConfig, installs: boolean): void;
  restartApi(ms: number): void;
  rebootInto(config: ParsedConfig, ms: number, booted?: () => void): void;
  rebootWiped(ms: number): void;
}

const fail = (r: Refusal) => Object.assign(new Error(r.details), { code: r.code, details: r.details });
const md = (n: NodeApi) => ({ hostname: n.opts.hostname, error: '' });

function version(n: NodeApi): Handler {
  return (_c, cb) => cb!(null, { messages: [{ metadata: md(n),
    version: { tag: n.profile.versionTag, sha: 'fake', built: '', go_version: 'go1.24', os: 'linux', arch: 'amd64' },
    platform: { name: 'metal', mode: 'metal' } }] });
}

function disks(n: NodeApi): Handler {
  const DEFAULT: FakeDisk[] = [{ device_name: 'sda', size: 64 * 2 ** 30, model: 'QEMU HARDDISK', serial: 'QM00001', bus_path: '/pci0000:00/0000:00:07.0/virtio4/host0/target0:0:0/0:0:0:0' }];
  return (_c, cb) => {
    const list = (n.opts.disks ?? DEFAULT).map((d) => ({
      size: String(d.size), model: d.model,
      // storaged: filepath.Join("/dev", id) (profiles.ts disksDeviceName)
      device_name: n.profile.disksDeviceName === 'full-path' ? `/dev/${d.device_name}` : d.device_name,
      name: '', serial: d.serial ?? '', modalias: '', uuid: '', wwid: d.wwid ?? '',
      type: 'HDD', bus_path: d.bus_path ?? `/pci0000:00/${d.device_name}`, system_disk: false, subsystem: '/sys/class/block',
    }));
    cb!(null, { messages: [{ metadata: md(n), disks: list }] });
  };
}

const refuseAll = <M extends Method>(methods: M[], why: Refusal): Record<M, Handler> =>
  Object.fromEntries(methods.map((m) => [m, (call: any, cb?: grpc.sendUnaryData<unknown>) => (cb ? cb(fail(why) as grpc.ServiceError) : call.emit('error', fail(why)))])) as Record<M, Handler>;

/** A node without config. Calls the profile refuses never reach these handlers (node.ts gate). */
export function maintenanceHandlers(n: NodeApi): Record<Method, Handler> {
  const notHere = { code: grpc.status.UNIMPLEMENTED, details: 'not available in maintenance mode' };
  return {
    ...refuseAll(['Bootstrap', 'EtcdMemberList', 'Kubeconfig', 'Reboot', 'Reset', 'Upgrade'], notHere),
    ApplyConfiguration: (call, cb) => {
      const req = call.request as { data: Buffer; mode: ApplyMode };
      const rule = n.profile.maintenanceApply[req.mode];
      if ('code' in rule) return cb!(fail(rule) as grpc.ServiceError);
      let parsed: ParsedConfig;
      try {
        parsed = n.parse(req.data);
      } catch (err) {
        const unparsable = n.profile.maintenanceApplyUnparsable;
        const refusal = err instanceof ConfigParseError
          ? { code: unparsable.code, details: `${unparsable.details}: ${(err as Error).message}` }
          : { code: grpc.status.INVALID_ARGUMENT, details: `configuration validation failed: ${(err as Error).message}` };
        return cb!(fail(refusal) as grpc.ServiceError);
      }
      // replyMode undefined: the field is left unset, which reads as REBOOT (the enum's zero value).
      const reply = { warnings: [], mode_details: rule.modeDetails, ...(rule.replyMode ? { mode: rule.replyMode } : {}) };
      cb!(null, { messages: [reply] });
      n.accept(req.data, req.mode, parsed, rule.installs);
    },
    Version: version(n),
    Hostname: (_c, cb) => cb!(null, { messages: [{ metadata: md(n), hostname: n.opts.hostname }] }),
    // In maintenance only the base services run; no etcd, no kubelet.
    ServiceList: (_c, cb) => cb!(null, { messages: [{ metadata: md(n), services: ['apid', 'machined', 'udevd'].map((id) => ({
      id, state: 'Running', events: { events: [] }, health: { unknown: false, healthy: true, last_message: '' } })) }] }),
    Disks: disks(n),
    ...resourceHandlers(() => [...machineResources(n.opts.disks, n.opts.machine), hostnameStatus(n.opts.hostname)]),
  };
}

function services(n: NodeApi): object[] {
  const svc = (id: string) => {
    const healthy = !n.faults.unhealthy.includes(id);
    return { id, state: healthy ? 'Running' : 'Failed', events: { events: [] }, health: { unknown: false, healthy, last_message: '' } };
  };
  const list = ['apid', 'containerd', 'cri', 'kubelet', 'machined', 'trustd'].map(svc);
  if (n.config?.type === 'controlplane') {
    const etcd = n.opts.etcd.members.has(n.opts.hostname) ? n.profile.etcdServiceAfterJoin : n.profile.etcdServiceBeforeBootstrap;
    list.push({ id: 'etcd', state: etcd.state, events: { events: [] }, health: etcd.health });
  }
  return list;
}

/** A configured node (mTLS): machined's handlers, internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go. */
export function configuredHandlers(n: NodeApi): Record<Method, Handler> {
  const cp = () => n.config?.type === 'controlplane';
  const { etcd, hostname } = n.opts;
  return {
    ApplyConfiguration: configuredApplyConfiguration(n), // apply-config.ts
    Version: version(n),
    Hostname: (_c, cb) => cb!(null, { messages: [{ metadata: md(n), hostname }] }),
    Upgrade: (_c, cb) => cb!(fail({ code: grpc.status.UNIMPLEMENTED, details: 'upgrade is not faked' }) as grpc.ServiceError),
    Bootstrap: (_c, cb) => {
      etcd.bootstrapCalls++;
      if (!cp()) return cb!(fail(n.profile.bootstrapOnWorker) as grpc.ServiceError);
      if (etcd.members.has(hostname)) return cb!(fail(n.profile.bootstrapDataDirNotEmpty) as grpc.ServiceError);
      // An empty data dir while etcd runs elsewhere: upstream bootstraps a second, separate cluster here.
      if (etcd.exists) etcd.splitBrain(hostname);
      else etcd.join(hostname);
      cb!(null, { messages: [{ metadata: md(n) }] });
    },
    EtcdMemberList: (call, cb) => {
      if (!cp()) return cb!(fail(n.profile.etcdMemberListOnWorker) as grpc.ServiceError);
      const local = Boolean(call.request?.query_local);
      if (!etcd.members.has(hostname) && (local || !etcd.exists)) {
        return cb!(fail(local ? n.profile.etcdMemberListBeforeEtcd : n.profile.etcdMemberListClusterBeforeEtcd) as grpc.ServiceError);
      }
      const members = [...etcd.members.values()].map((m) => ({ id: m.id, hostname: m.hostname, peer_urls: [], client_urls: [], is_learner: false }));
      cb!(null, { messages: [{ metadata: md(n), legacy_members: members.map((m) => m.hostname), members }] });
    },
    ServiceList: (_c, cb) => cb!(null, { messages: [{ metadata: md(n), services: services(n) }] }),
    Kubeconfig: (call) => kubeconfig(n, call),
    Reset: (call, cb) => {
      const wipeRefusal = resetWipeRefusal(call.request, n.opts.disks, n.config?.installDisk);
      if (wipeRefusal) return cb!(wipeRefusal as grpc.ServiceError);
      n.resets.push(call.request);
      if (n.opts.diskImages) wipeDiskImages(n.opts.diskImages, resetWipeTargets(call.request, n.config?.installDisk));
      // profiles.ts resetEtcd: only a graceful reset leaves etcd; a reset that wipes EPHEMERAL
      // (the default, or named in system_partitions_to_wipe) loses /var/lib/etcd with it.
      const labels = (call.request.system_partitions_to_wipe ?? []).map((p: { label: string }) => p.label);
      if (call.request.graceful && n.profile.resetEtcd.gracefulLeaves) etcd.leave(hostname);
      else if (n.profile.resetEtcd.wipeLosesData && (labels.length === 0 || labels.includes('EPHEMERAL'))) etcd.dataWiped(hostname);
      cb!(null, { messages: [{ metadata: md(n), actor_id: 'reset-1' }] });
      // Wiped STATE: the node reboots with no config, into maintenance mode.
      n.rebootWiped(n.opts.resetRebootDelayMs ?? 20);
    },
    Reboot: (_c, cb) => cb!(null, { messages: [{ metadata: md(n), actor_id: 'reboot-1' }] }),
    Disks: disks(n),
    ...resourceHandlers(() => [...machineResources(n.opts.disks, n.opts.machine), ...extensionStatuses(runningSchematic(n)), ...k8sResources(n, activeConfig(n)), hostnameStatus(n.opts.hostname, activeConfig(n))]),
  };
}

function kubeconfig(n: NodeApi, call: grpc.ServerWritableStream<unknown, unknown>): void {
  if (n.config?.type !== 'controlplane') {
    call.emit('error', fail(n.profile.kubeconfigOnWorker));
    return;
  }
  const full = kubeconfigArchive(fakeKubeconfig(n.opts.clusterName ?? 'rackboot', 'https://cp.example:6443'));
  const archive = full.subarray(0, full.length - (n.faults.kubeconfigTruncate ?? 0));
  // profiles.ts kubeconfigStream: upstream sends the archive as one message.
  const size = Math.max(1, n.faults.kubeconfigChunkSize ?? archive.length);
  const drop = n.faults.kubeconfigDrop;
  let chunks = 0;
  for (let off = 0; off < archive.length; off += size) {
    if (drop && drop.times > 0 && chunks === drop.afterChunks) {
      drop.times--;
      if (!drop.hard) {
        call.emit('error', fail({ code: grpc.status.UNAVAILABLE, details: 'connection dropped mid-stream' }));
        return;
      }
      n.restartApi(30);
      return;
    }
    const hang = n.faults.kubeconfigHang;
    if (hang && hang.times > 0 && chunks === hang.afterChunks) {
      hang.times--;
      return; // neither more data nor an end: only the client's deadline ends this call
    }
    call.write({ metadata: md(n), bytes: archive.subarray(off, off + size) });
    chunks++;
  }
  call.end();
}
