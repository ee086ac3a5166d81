// Lab and test use only.
// Talos upgrades on a configured fake node, as upstream does them:
// - MachineService/Upgrade (internal/app/machined/internal/server/v1alpha1/
//   v1alpha1_server.go, v1.12.0; same at v1.11.5 and v1.13.0): refuses an
//   empty image; on a control plane, unless forced, validates etcd first
//   (internal/pkg/etcd/etcd.go ValidateForUpgrade: 2 members refused, every
//   member started and answering a quorum read); answers "Upgrade request
//   received" with an actor id, then runs the upgrade sequence in the
//   background: the installer writes the new image, the node reboots (API
//   gone, etcd member down) and comes back on the new version.
// - LifecycleService/Upgrade (internal/app/lifecycle/lifecycle.go, v1.13.0;
//   the service does not exist before v1.13.0, where api/machine/
//   lifecycle.proto first appears): one upgrade at a time (FailedPrecondition
//   "another installation/upgrade is already in progress"); an empty image is
//   InvalidArgument; streams progress lines and ends with the installer's
//   exit code, never a gRPC error for a failed installer; no etcd check; no
//   reboot: talosctl reboots afterwards (cmd/talosctl/cmd/talos/upgrade.go),
//   and the new version runs only after that reboot.
// The version a node reports after an upgrade is the installer image's tag,
// and the schematic it runs the image's schematic (schematic.ts).
import * as grpc from '@grpc/grpc-js';
import type { ProfileName } from './profiles.js';
import type { RealEtcdCluster } from './real-etcd.js';
import { imageSchematic } from './schematic.js';

type Handler = (call: any, cb?: grpc.sendUnaryData<unknown>) => void;

/** Knobs and observations per node; tests read and set them through fakeUpgrade(node). */
export interface FakeUpgradeState {
  /** The version tag the node reports once upgraded; undefined: the profile's. */
  versionTag?: string;
  /** The schematic of the last installer it rebooted into (schematic.ts); undefined: its config's. */
  schematic?: string;
  /** The installer image installed, waiting for a reboot (LifecycleService). */
  staged?: string;
  /** How long the node is off the API while it reboots into the new version. */
  downMs: number;
  /** The installer fails with this exit code (LifecycleService) or the sequence fails and the node stays (legacy). */
  failExitCode?: number;
  /** How long the LifecycleService installer runs before its exit code. */
  installMs?: number;
  /** The node never comes back from the reboot. */
  neverReturns?: boolean;
  /** Images the node accepted an upgrade to, in order: the test's "upgraded exactly once". */
  readonly upgrades: string[];
  inProgress: boolean;
}

/** What these handlers need of the node. */
export interface UpgradableNode {
  readonly opts: { hostname: string; realEtcd?: RealEtcdCluster; profile?: ProfileName };
  readonly config: { type: 'controlplane' | 'worker' } | undefined;
  readonly profile: { versionTag: string };
  restartApi(ms: number): void;
  later(ms: number, fn: () => void): void;
  stop(): Promise<void>;
}

const states = new WeakMap<object, FakeUpgradeState>();

export function fakeUpgrade(node: object): FakeUpgradeState {
  let s = states.get(node);
  if (!s) states.set(node, (s = { downMs: 150, upgrades: [], inProgress: false }));
  return s;
}

/** Upstream machined.go (v1.13.0) rules for the methods added here. */
export const UPGRADE_ROLES: Record<string, string[]> = { LifecycleUpgrade: ['os:admin'] };

/** From v1.13.0 only (see above). */
export const hasLifecycleService = (profile: ProfileName | undefined) => profile === undefined || profile === 'v1.13+';

const err = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details }) as grpc.ServiceError;

export function imageTag(image: string): string {
  const name = image.slice(image.lastIndexOf('/') + 1);
  const at = name.lastIndexOf(':');
  return at < 0 ? 'latest' : name.slice(at + 1);
}

/** The reboot into `image`: API and etcd member down for downMs, then back on its version (tag) and schematic. */
function rebootInto(n: UpgradableNode, st: FakeUpgradeState, image: string): void {
  const etcd = n.config?.type === 'controlplane' ? n.opts.realEtcd : undefined;
  if (etcd) void etcd.kill(n.opts.hostname);
  if (st.neverReturns) {
    void n.stop();
    return;
  }
  st.versionTag = imageTag(image);
  st.schematic = imageSchematic(image);
  n.restartApi(st.downMs);
  if (etcd) n.later(st.downMs, () => etcd.restart(n.opts.hostname));
}

/** ValidateForUpgrade over the real etcd, when there is one. */
async function validateEtcd(n: UpgradableNode): Promise<void> {
  const etcd = n.opts.realEtcd;
  if (!etcd || n.config?.type !== 'controlplane') return;
  const via = etcd.names().find((x) => etcd.running(x));
  if (!via) throw err(grpc.status.UNKNOWN, 'failed to create etcd client: no endpoints');
  const members = await etcd.memberList(via);
  if (members.length === 2) throw err(grpc.status.UNKNOWN, `error validating etcd for upgrade: etcd member count(${members.length}) is insufficient to maintain quorum if upgrade commences`);
  for (const m of members) {
    if (!m.name) throw err(grpc.status.UNKNOWN, `error validating etcd for upgrade: etcd member ${m.id} is not started, all members must be running to perform an upgrade`);
    try {
      await etcd.quorumRead(m.name);
    } catch (e) {
      throw err(grpc.status.UNKNOWN, `error validating etcd for upgrade: etcd member ${m.id} is not healthy; all members must be healthy to perform an upgrade: ${(e as Error).message}`);
    }
  }
}

/** MachineService handlers to merge over the configured node's own (Upgrade, Version, Reboot). */
export function upgradeHandlers(n: UpgradableNode, base: { Version: Handler; Reboot: Handler }): Record<string, Handler> {
  const st = fakeUpgrade(n);
  return {
    Version: (call, cb) => base.Version(call, st.versionTag === undefined ? cb : (e, res: any) => {
      if (res?.messages?.[0]?.version) res.messages[0].version.tag = st.versionTag;
      cb!(e, res);
    }),
    Upgrade: (call, cb) => {
      const req = call.request as { image: string; force: boolean };
      if (!req.image) return cb!(err(grpc.status.INVALID_ARGUMENT, 'error validating installer image "": image reference is empty'));
      const check = req.force ? Promise.resolve() : validateEtcd(n);
      check.then(() => {
        st.upgrades.push(req.image);
        cb!(null, { messages: [{ metadata: { hostname: n.opts.hostname, error: '' }, ack: 'Upgrade request received', actor_id: `upgrade-${st.upgrades.length}` }] });
        // The sequence runs after the reply; a failed installer leaves the node on its old version.
        if (st.failExitCode === undefined) n.later(20, () => rebootInto(n, st, req.image));
      }, (e) => cb!(e));
    },
    Reboot: (call, cb) => {
      if (st.staged === undefined) return base.Reboot(call, cb);
      const image = st.staged;
      st.staged = undefined;
      cb!(null, { messages: [{ metadata: { hostname: n.opts.hostname, error: '' }, actor_id: 'reboot-upgrade' }] });
      n.later(20, () => rebootInto(n, st, image));
    },
  };
}

/** LifecycleService/Upgrade (server stream). */
export function lifecycleUpgrade(n: UpgradableNode): Handler {
  const st = fakeUpgrade(n);
  return (call: grpc.ServerWritableStream<{ source?: { image_name?: string } }, unknown>) => {
    const image = call.request.source?.image_name ?? '';
    if (!image) return call.emit('error', err(grpc.status.INVALID_ARGUMENT, 'installer image name is required'));
    if (st.inProgress) return call.emit('error', err(grpc.status.FAILED_PRECONDITION, 'another installation/upgrade is already in progress'));
    st.inProgress = true;
    st.upgrades.push(image);
    call.write({ progress: { message: `pulling ${image}` } });
    // The installer runs under the stream's context (lifecycle.go Upgrade,
    // ctx := ss.Context(), v1.13.0): a cancelled stream stops it, nothing is staged.
    let cancelled = false;
    call.on('cancelled', () => { cancelled = true; st.inProgress = false; });
    n.later(st.installMs ?? 20, () => {
      if (cancelled) return;
      call.write({ progress: { message: 'installing' } });
      const code = st.failExitCode ?? 0;
      if (code === 0) st.staged = image;
      call.write({ progress: { exit_code: code } });
      st.inProgress = false;
      call.end();
    });
  };
}
