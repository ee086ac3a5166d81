// A Talos machine API client, the calls rackboot makes and nothing more.
// Construct with TalosClient.maintenance() for a node without config, or
// TalosClient.configured() with the talosconfig admin identity.
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { configuredCredentials, maintenanceCredentials, type AdminIdentity } from './credentials.js';
import { ArchiveError, TalosCallError } from './errors.js';
import { talosApi } from './proto-load.js';
import { CallRunner, DEFAULT_POLICY, type RetryPolicy } from './rpc.js';
import { tarFile } from './tar.js';

export const TALOS_API_PORT = 50000;

export type ApplyMode = 'REBOOT' | 'AUTO' | 'NO_REBOOT' | 'STAGED' | 'TRY';

export interface VersionInfo { tag: string; sha: string; built: string; go_version: string; os: string; arch: string }
export interface ServiceInfo { id: string; state: string; health: { unknown: boolean; healthy: boolean; last_message: string } | null }
export interface EtcdMember { id: string; hostname: string; peer_urls: string[]; client_urls: string[]; is_learner: boolean }
export interface EtcdMemberStatus { member_id: string; protocol_version: string; leader: string; raft_index: string; raft_term: string; errors: string[]; is_learner: boolean }
export interface Disk { size: string; model: string; device_name: string; name: string; serial: string; wwid: string; bus_path: string; type: string; system_disk: boolean }
/** A COSI resource as the state API sends it (resource.proto); the spec is read from its YAML. */
export interface CosiResource { metadata: { namespace: string; type: string; id: string; version: string; phase: string } | null; spec: { yaml_spec: string } | null }
export interface ApplyResult { mode: ApplyMode; modeDetails: string; warnings: string[] }

export interface ResetOptions {
  graceful: boolean;
  reboot: boolean;
  /** Partition labels on the system disk to wipe; empty upstream means "all". */
  systemPartitionsToWipe: string[];
  /** Data disks (/dev paths) to wipe too; empty: the system disk only. */
  userDisksToWipe?: string[];
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint) ?? /^([^:]+)(?::(\d+))?$/.exec(endpoint);
  if (!m) throw new Error(`bad Talos endpoint ${JSON.stringify(endpoint)}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : TALOS_API_PORT };
}

function target(ep: { host: string; port: number }): string {
  return ep.host.includes(':') ? `ipv6:[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/**
 * For probes: whether the API `open` reaches answers `ask`. Every failure
 * (connect, TLS, a gRPC error) is "no", and the client is closed either way.
 * Pick a call that answers in the mode probed: Disks answers in maintenance
 * on every supported version (Version is Unimplemented there up to v1.12).
 */
export async function talosAnswers(open: () => Promise<TalosClient> | TalosClient, ask: (c: TalosClient) => Promise<unknown>): Promise<boolean> {
  let c: TalosClient | undefined;
  try {
    c = await open();
    await ask(c);
    return true;
  } catch {
    return false;
  } finally {
    c?.close();
  }
}

export class TalosClient {
  private readonly machine: grpc.Client;
  private readonly storage: grpc.Client;
  private readonly lifecycle: grpc.Client;
  private readonly state: grpc.Client;
  private readonly calls: CallRunner;

  private constructor(readonly endpoint: string, creds: grpc.ChannelCredentials, policy: RetryPolicy) {
    const api = talosApi();
    const t = target(parseEndpoint(endpoint));
    // Talos serves one port for every service: both stubs share one channel.
    this.machine = new api.MachineService(t, creds);
    this.storage = new api.StorageService(t, creds, { channelOverride: this.machine.getChannel() });
    this.lifecycle = new api.LifecycleService(t, creds, { channelOverride: this.machine.getChannel() });
    this.state = new api.ResourceState(t, creds, { channelOverride: this.machine.getChannel() });
    this.calls = new CallRunner(policy);
  }

  /** Like `talosctl --insecure`: TLS without verifying the node, optionally pinned by SPKI sha256. */
  static async maintenance(endpoint: string, opts: { pinSha256?: string; policy?: Partial<RetryPolicy> } = {}): Promise<TalosClient> {
    const policy = { ...DEFAULT_POLICY, ...opts.policy };
    const creds = await maintenanceCredentials(parseEndpoint(endpoint), { pinSha256: opts.pinSha256, timeoutMs: policy.timeoutMs });
    return new TalosClient(endpoint, creds, policy);
  }

  /** mTLS with the admin identity; the node must present a cert from the OS CA. */
  static configured(endpoint: string, id: AdminIdentity, opts: { policy?: Partial<RetryPolicy> } = {}): TalosClient {
    return new TalosClient(endpoint, configuredCredentials(id), { ...DEFAULT_POLICY, ...opts.policy });
  }

  /** Cancels every call in flight and every pending retry, then closes the channel. */
  close(): void {
    this.calls.close();
    this.machine.close();
  }

  async version(): Promise<{ version: VersionInfo; platform: { name: string; mode: string } | null }> {
    const [m] = await this.calls.unary<object, { version: VersionInfo; platform: { name: string; mode: string } | null }>(this.machine, 'Version', {});
    if (!m) throw new Error('Version: empty reply');
    return { version: m.version, platform: m.platform };
  }

  async hostname(): Promise<string> {
    const [m] = await this.calls.unary<object, { hostname: string }>(this.machine, 'Hostname', {});
    return m?.hostname ?? '';
  }

  /** Mode is required: upstream's zero value is the deprecated REBOOT. */
  async applyConfiguration(data: Buffer, mode: ApplyMode, opts: { dryRun?: boolean } = {}): Promise<ApplyResult> {
    const [m] = await this.calls.unary<object, { mode: ApplyMode; mode_details: string; warnings: string[] }>(
      this.machine, 'ApplyConfiguration', { data, mode, dry_run: opts.dryRun ?? false });
    return { mode: m?.mode ?? mode, modeDetails: m?.mode_details ?? '', warnings: m?.warnings ?? [] };
  }

  /**
   * Not retried: whether a lost reply means etcd was bootstrapped is for the
   * caller to find out (EtcdMemberList), never to guess by calling again.
   */
  async bootstrap(): Promise<void> {
    await this.calls.unary(this.machine, 'Bootstrap', { recover_etcd: false, recover_skip_hash_check: false }, { retry: false });
  }

  /**
   * `queryLocal`: ask this node's own etcd. `retry: false`: before etcd runs
   * upstream answers Unavailable (connection refused to its local etcd),
   * which is an answer, not a transport fault to retry.
   */
  async etcdMemberList(opts: { queryLocal?: boolean; retry?: boolean } = {}): Promise<EtcdMember[]> {
    const msgs = await this.calls.unary<object, { members: EtcdMember[] }>(this.machine, 'EtcdMemberList', { query_local: opts.queryLocal ?? false },
      opts.retry === false ? { retry: false } : {});
    return msgs.flatMap((m) => m.members);
  }

  // day2-rollout: Talos upgrades.
  /**
   * The legacy MachineService/Upgrade (every version up to v1.13): the node
   * validates the image, checks etcd itself for a control plane, answers,
   * then installs and reboots on its own. Not retried: a lost reply may
   * mean the upgrade runs; the caller asks the node its version instead.
   */
  async upgradeLegacy(image: string): Promise<string> {
    const [m] = await this.calls.unary<object, { ack: string }>(this.machine, 'Upgrade',
      { image, preserve: false, stage: false, force: false, reboot_mode: 'DEFAULT' }, { retry: false });
    return m?.ack ?? '';
  }

  /**
   * LifecycleService/Upgrade (v1.13+): streams progress, ends with the
   * installer's exit code; it installs only, the caller reboots. Not
   * retried. Resolves the exit code and the progress lines.
   */
  lifecycleUpgrade(image: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ exitCode: number | undefined; messages: string[] }> {
    const timeoutMs = opts.timeoutMs ?? 15 * 60_000;
    return new Promise((resolve, reject) => {
      const messages: string[] = [];
      let exitCode: number | undefined;
      const fn = (this.lifecycle as unknown as Record<string, (r: object, md: grpc.Metadata, o: grpc.CallOptions) => grpc.ClientReadableStream<any>>).Upgrade!.bind(this.lifecycle);
      const call = fn({ containerd: { driver: 'CONTAINERD', namespace: 'NS_SYSTEM' }, source: { image_name: image } }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs });
      call.on('data', (d: { progress?: { response?: string; message?: string; exit_code?: number } }) => {
        const p = d.progress;
        if (p?.response === 'exit_code') exitCode = p.exit_code;
        else if (p?.response === 'message' && p.message) messages.push(p.message);
      });
      call.on('error', (err: grpc.ServiceError) => reject(new TalosCallError('LifecycleService/Upgrade', err.code, err.details ?? err.message)));
      call.on('status', (st: grpc.StatusObject) => { if (st.code === grpc.status.OK) resolve({ exitCode, messages }); });
      // A stop (the daemon closing) cancels the stream; upstream runs the installer under the stream's context, so it stops too.
      if (opts.signal?.aborted) call.cancel();
      else opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  // day2b: talosctl upgrade-k8s pre-pulls the new images (talos_managed.go prePullImages, v1.12.0).
  /** Pulls `reference` into the node's containerd namespace; already there is a no-op on the node. Not retried. */
  async imagePull(namespace: 'NS_CRI' | 'NS_SYSTEM', reference: string): Promise<void> {
    await this.calls.unary(this.machine, 'ImagePull', { namespace, reference }, { retry: false });
  }

  // day2-rollout: etcd health and membership (quorum gate, node removal).
  /** This node's own etcd member: its id and the leader it sees ("0": none). */
  async etcdStatus(): Promise<EtcdMemberStatus> {
    const [m] = await this.calls.unary<object, { member_status: EtcdMemberStatus | null }>(this.machine, 'EtcdStatus', {}, { retry: false });
    if (!m?.member_status) throw new Error('EtcdStatus: empty reply');
    return m.member_status;
  }

  /** Not retried: the answer names the new leader, and a second call would find none to give. */
  async etcdForfeitLeadership(): Promise<string> {
    const [m] = await this.calls.unary<object, { member: string }>(this.machine, 'EtcdForfeitLeadership', {}, { retry: false });
    return m?.member ?? '';
  }

  async etcdLeaveCluster(): Promise<void> {
    await this.calls.unary(this.machine, 'EtcdLeaveCluster', {}, { retry: false });
  }

  async etcdRemoveMemberById(memberId: string): Promise<void> {
    await this.calls.unary(this.machine, 'EtcdRemoveMemberByID', { member_id: memberId }, { retry: false });
  }

  async serviceList(): Promise<ServiceInfo[]> {
    const msgs = await this.calls.unary<object, { services: ServiceInfo[] }>(this.machine, 'ServiceList', {});
    return msgs.flatMap((m) => m.services);
  }

  async disks(): Promise<Disk[]> {
    const msgs = await this.calls.unary<object, { disks: Disk[] }>(this.storage, 'Disks', {});
    return msgs.flatMap((m) => m.disks);
  }

  /** Every resource of `type` in `namespace` (COSI State/List, what `talosctl get TYPE` calls). */
  async listResources(namespace: string, type: string): Promise<CosiResource[]> {
    const msgs = await this.calls.streamMessages<object, { resource: CosiResource | null }>(this.state, 'List', { namespace, type });
    return msgs.flatMap((m) => (m.resource ? [m.resource] : []));
  }

  /** Not retried: a reset that went through must not be sent again. */
  async reset(opts: ResetOptions): Promise<void> {
    await this.calls.unary(this.machine, 'Reset', {
      graceful: opts.graceful,
      reboot: opts.reboot,
      system_partitions_to_wipe: opts.systemPartitionsToWipe.map((label) => ({ label, wipe: true })),
      // Upstream refuses user disks with mode SYSTEM_DISK; ALL wipes the system disk plus exactly the listed disks
      // (v1alpha1_server.go Reset, v1.11.0..v1.13.0): no disk is wiped for not being listed.
      user_disks_to_wipe: opts.userDisksToWipe ?? [],
      mode: opts.userDisksToWipe?.length ? 'ALL' : 'SYSTEM_DISK',
    }, { retry: false });
  }

  async reboot(mode: 'DEFAULT' | 'POWERCYCLE' = 'DEFAULT'): Promise<void> {
    await this.calls.unary(this.machine, 'Reboot', { mode }, { retry: false });
  }

  /** The gzip tar stream, concatenated; the archive has no end marker, which tarFile accepts. */
  async kubeconfig(): Promise<Buffer> {
    const gz = await this.calls.streamBytes(this.machine, 'Kubeconfig', {});
    let tar: Buffer;
    try {
      tar = gunzipSync(gz);
    } catch (err) {
      throw new ArchiveError(`kubeconfig stream is not a complete gzip stream: ${(err as Error).message}`);
    }
    return tarFile(tar, 'kubeconfig');
  }
}
