// Lab and test use only: never started by `rackboot serve`.
// A fake Talos node that speaks the machine API on the wire like the real
// one: same protobuf names and numbers (rackboot's subset, loaded from
// src/talos/proto), maintenance mode with a self-signed cert and no client
// cert, configured mode with mTLS that admits only clients of the config's
// OS CA, with roles checked per method as upstream does. Faults (slow
// answers, dropped streams, metadata.error, gRPC statuses) can be injected
// per method while it runs.
import * as grpc from '@grpc/grpc-js';
import { talosApi } from '../../talos/proto-load.js';
import { FakeEtcd, fakeKubeconfig, kubeconfigArchive, parseMachineConfig, type CertAndKey, type ConfigValidator, type ParsedConfig } from './cluster.js';

export type Method = 'ApplyConfiguration' | 'Bootstrap' | 'EtcdMemberList' | 'Hostname' | 'Kubeconfig' | 'Reboot' | 'Reset'
  | 'ServiceList' | 'Upgrade' | 'Version' | 'Disks';

export interface Faults {
  delayMs: Partial<Record<Method, number>>;
  /** Answer with messages[0].metadata.error set. */
  metadataError: Partial<Record<Method, string>>;
  /** Fail the next N calls with a gRPC status. */
  status: Partial<Record<Method, { code: grpc.status; details: string; times: number }>>;
  kubeconfigChunkSize: number;
  /**
   * Break the stream after this many chunks (times: how many calls). Soft
   * ends the call with UNAVAILABLE; hard tears down the whole server, every
   * connection with it, and serves again shortly after, like apid restarting.
   */
  kubeconfigDrop?: { afterChunks: number; times: number; hard?: boolean };
  /** End the stream normally but this many bytes short. */
  kubeconfigTruncate?: number;
  /** Send this many chunks, then go silent with the stream open (times: how many calls). */
  kubeconfigHang?: { afterChunks: number; times: number };
  unhealthy: string[];
}

export interface FakeNodeOptions {
  host: string;
  port: number;
  hostname: string;
  /** Self-signed, served in maintenance mode. */
  maintenanceCert: CertAndKey;
  /** Signed by the OS CA, served once configured. */
  serverCert: CertAndKey;
  etcd: FakeEtcd;
  clusterName?: string;
  validate?: ConfigValidator;
  disks?: { device_name: string; size: number; model: string }[];
  /** Time between an accepted config and the API answering over mTLS (the "install"). */
  installDelayMs?: number;
}

type Handler = (call: any, cb?: grpc.sendUnaryData<unknown>) => void;

/**
 * Roles allowed per method, as upstream machined's authorization rules have
 * them (anything unlisted falls back to os:admin). Roles come from the
 * client cert's Organization values.
 */
const READ = ['os:admin', 'os:operator', 'os:reader'];
const ROLES: Record<Method, string[]> = {
  ApplyConfiguration: ['os:admin'], Bootstrap: ['os:admin'], Kubeconfig: ['os:admin'], Reset: ['os:admin'], Upgrade: ['os:admin'],
  Reboot: ['os:admin', 'os:operator'],
  EtcdMemberList: [...READ, 'os:etcd:backup'], Hostname: READ, ServiceList: READ, Version: READ, Disks: READ,
};
const grpcError = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });

export class FakeTalosNode {
  mode: 'maintenance' | 'configured' | 'down' = 'down';
  config: ParsedConfig | undefined;
  readonly calls: Record<string, number> = {};
  readonly applied: { data: Buffer; mode: string }[] = [];
  readonly resets: unknown[] = [];
  readonly refused: string[] = [];
  faults: Faults = { delayMs: {}, metadataError: {}, status: {}, kubeconfigChunkSize: 37, unhealthy: [] };
  private server: grpc.Server | undefined;
  private timers = new Set<NodeJS.Timeout>();

  constructor(readonly opts: FakeNodeOptions) {}

  get endpoint(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  get bootstrapCalls(): number {
    return this.calls.Bootstrap ?? 0;
  }

  async start(): Promise<void> {
    await this.serve(this.config ? 'configured' : 'maintenance');
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.server) this.server.forceShutdown();
    this.server = undefined;
    this.mode = 'down';
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => (this.timers.delete(t), fn()), ms);
    this.timers.add(t);
  }

  private async serve(mode: 'maintenance' | 'configured'): Promise<void> {
    if (this.server) this.server.forceShutdown();
    const creds = mode === 'maintenance'
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(this.opts.maintenanceCert.key), cert_chain: Buffer.from(this.opts.maintenanceCert.crt) }], false)
      : grpc.ServerCredentials.createSsl(Buffer.from(this.config!.osCaPem), [{ private_key: Buffer.from(this.opts.serverCert.key), cert_chain: Buffer.from(this.opts.serverCert.crt) }], true);
    const server = new grpc.Server();
    const api = talosApi();
    server.addService(api.MachineService.service, this.machineHandlers(mode));
    server.addService(api.StorageService.service, { Disks: this.wrap('Disks', mode, (_c, cb) => this.disks(cb!)) });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(this.endpoint, creds, (err) => (err ? reject(err) : resolve())));
    this.server = server;
    this.mode = mode;
  }

  /** Counts, authorizes, delays and fault-injects every call before the real handler runs. */
  private wrap(method: Method, mode: 'maintenance' | 'configured', fn: Handler): Handler {
    return (call, cb) => {
      this.calls[method] = (this.calls[method] ?? 0) + 1;
      const fail = (e: Error) => (cb ? cb(e as grpc.ServiceError) : call.emit('error', e));
      if (mode === 'configured') {
        const o = call.getAuthContext?.()?.sslPeerCertificate?.subject?.O;
        const orgs = Array.isArray(o) ? o : o ? [o] : [];
        if (!orgs.some((r: string) => ROLES[method].includes(r))) {
          this.refused.push(method);
          return fail(grpcError(grpc.status.PERMISSION_DENIED, `not authorized: roles ${JSON.stringify(orgs)}`));
        }
      }
      const run = () => {
        const st = this.faults.status[method];
        if (st && st.times > 0) {
          st.times--;
          return fail(grpcError(st.code, st.details));
        }
        const mdErr = this.faults.metadataError[method];
        if (mdErr !== undefined) {
          const metadata = { hostname: this.opts.hostname, error: mdErr, status: { code: grpc.status.INTERNAL, message: mdErr } };
          if (cb) return cb(null, { messages: [{ metadata }] });
          call.write({ metadata, bytes: Buffer.alloc(0) });
          return call.end();
        }
        fn(call, cb);
      };
      const delay = this.faults.delayMs[method];
      if (delay) this.later(delay, run);
      else run();
    };
  }

  private machineHandlers(mode: 'maintenance' | 'configured'): grpc.UntypedServiceImplementation {
    const md = () => ({ hostname: this.opts.hostname, error: '' });
    const unimplemented = (method: Method): Handler => this.wrap(method, mode, (_c, cb) =>
      cb!(grpcError(grpc.status.UNIMPLEMENTED, `${method} is not implemented in maintenance mode`)));
    const apply = this.wrap('ApplyConfiguration', mode, (call, cb) => this.apply(call.request, mode, cb!));
    if (mode === 'maintenance') {
      return {
        ApplyConfiguration: apply, Version: unimplemented('Version'), Reset: unimplemented('Reset'), Upgrade: unimplemented('Upgrade'),
        Bootstrap: unimplemented('Bootstrap'), EtcdMemberList: unimplemented('EtcdMemberList'), Hostname: unimplemented('Hostname'),
        Kubeconfig: this.wrap('Kubeconfig', mode, (call) => call.emit('error', grpcError(grpc.status.UNIMPLEMENTED, 'Kubeconfig is not implemented in maintenance mode'))),
        Reboot: unimplemented('Reboot'), ServiceList: unimplemented('ServiceList'),
      };
    }
    const cp = () => this.config?.type === 'controlplane';
    return {
      ApplyConfiguration: apply,
      Version: this.wrap('Version', mode, (_c, cb) => cb!(null, { messages: [{ metadata: md(), version: { tag: 'v1.11.5', sha: 'fake', built: '', go_version: 'go1.24', os: 'linux', arch: 'amd64' }, platform: { name: 'metal', mode: 'metal' } }] })),
      Hostname: this.wrap('Hostname', mode, (_c, cb) => cb!(null, { messages: [{ metadata: md(), hostname: this.opts.hostname }] })),
      Upgrade: this.wrap('Upgrade', mode, (_c, cb) => cb!(grpcError(grpc.status.UNIMPLEMENTED, 'upgrade is not faked'))),
      Bootstrap: this.wrap('Bootstrap', mode, (_c, cb) => {
        this.opts.etcd.bootstrapCalls++;
        if (!cp()) return cb!(grpcError(grpc.status.FAILED_PRECONDITION, 'bootstrap is only supported on control plane nodes'));
        // etcd refuses a second bootstrap of the same cluster.
        if (this.opts.etcd.exists) return cb!(grpcError(grpc.status.ALREADY_EXISTS, 'etcd data directory is not empty'));
        this.opts.etcd.join(this.opts.hostname);
        cb!(null, { messages: [{ metadata: md() }] });
      }),
      EtcdMemberList: this.wrap('EtcdMemberList', mode, (_c, cb) => {
        if (!cp()) return cb!(grpcError(grpc.status.FAILED_PRECONDITION, 'etcd is not running on worker nodes'));
        const members = [...this.opts.etcd.members.values()].map((m) => ({ id: m.id, hostname: m.hostname, peer_urls: [], client_urls: [], is_learner: false }));
        cb!(null, { messages: [{ metadata: md(), legacy_members: [], members }] });
      }),
      ServiceList: this.wrap('ServiceList', mode, (_c, cb) => cb!(null, { messages: [{ metadata: md(), services: this.services() }] })),
      Kubeconfig: this.wrap('Kubeconfig', mode, (call) => this.kubeconfig(call)),
      Reset: this.wrap('Reset', mode, (call, cb) => {
        this.resets.push(call.request);
        // Upstream v1.12.0 internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_sequencer.go (Sequencer.Reset): only a graceful reset of a
        // control plane runs LeaveEtcd; any reset wiping EPHEMERAL (or the whole system disk) loses /var/lib/etcd.
        const labels = (call.request.system_partitions_to_wipe ?? []).map((p: { label: string }) => p.label);
        if (call.request.graceful) this.opts.etcd.leave(this.opts.hostname);
        else if (labels.length === 0 || labels.includes('EPHEMERAL')) this.opts.etcd.dataWiped(this.opts.hostname);
        cb!(null, { messages: [{ metadata: md(), actor_id: 'reset-1' }] });
        // Wiped STATE: the node reboots with no config, into maintenance mode.
        this.later(20, () => {
          this.config = undefined;
          this.serve('maintenance').catch(() => { this.mode = 'down'; });
        });
      }),
      Reboot: this.wrap('Reboot', mode, (_c, cb) => cb!(null, { messages: [{ metadata: md(), actor_id: 'reboot-1' }] })),
    };
  }

  private apply(req: { data: Buffer; mode: string }, mode: 'maintenance' | 'configured', cb: grpc.sendUnaryData<unknown>): void {
    if (mode === 'maintenance' && !['AUTO', 'REBOOT', 'TRY'].includes(req.mode)) {
      return cb(grpcError(grpc.status.INVALID_ARGUMENT, `apply mode ${req.mode} is not supported in maintenance mode`));
    }
    let parsed: ParsedConfig;
    try {
      parsed = parseMachineConfig(Buffer.from(req.data), this.opts.validate);
    } catch (err) {
      return cb(grpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message));
    }
    this.applied.push({ data: Buffer.from(req.data), mode: req.mode });
    cb(null, { messages: [{ metadata: { hostname: this.opts.hostname, error: '' }, warnings: [], mode: req.mode === 'TRY' ? 'TRY' : 'REBOOT', mode_details: 'Applied configuration with a reboot' }] });
    if (mode === 'maintenance') {
      // Install, reboot, come back configured; a control plane joins etcd if it exists.
      this.later(this.opts.installDelayMs ?? 50, () => {
        this.config = parsed;
        this.serve('configured').then(() => {
          if (parsed.type === 'controlplane') this.opts.etcd.controlPlaneUp(this.opts.hostname);
        }, () => { this.mode = 'down'; });
      });
    }
  }

  private services(): object[] {
    const svc = (id: string) => {
      const healthy = !this.faults.unhealthy.includes(id);
      return { id, state: healthy ? 'Running' : 'Failed', events: { events: [] }, health: { unknown: false, healthy, last_message: '' } };
    };
    const ids = ['apid', 'containerd', 'cri', 'kubelet', 'machined', 'trustd'];
    if (this.config?.type === 'controlplane' && this.opts.etcd.members.has(this.opts.hostname)) ids.push('etcd');
    return ids.map(svc);
  }

  private disks(cb: grpc.sendUnaryData<unknown>): void {
    const disks = (this.opts.disks ?? [{ device_name: 'sda', size: 64 * 2 ** 30, model: 'QEMU HARDDISK' }]).map((d) => ({
      size: String(d.size), model: d.model, device_name: d.device_name, name: '', serial: '', modalias: '', uuid: '', wwid: '',
      type: 'HDD', bus_path: `/pci0000:00/${d.device_name}`, system_disk: false, subsystem: '/sys/class/block',
    }));
    cb(null, { messages: [{ metadata: { hostname: this.opts.hostname, error: '' }, disks }] });
  }

  private kubeconfig(call: grpc.ServerWritableStream<unknown, unknown>): void {
    if (this.config?.type !== 'controlplane') {
      call.emit('error', grpcError(grpc.status.FAILED_PRECONDITION, 'kubeconfig is only available on control plane nodes'));
      return;
    }
    const full = kubeconfigArchive(fakeKubeconfig(this.opts.clusterName ?? 'rackboot', 'https://cp.example:6443'));
    const archive = full.subarray(0, full.length - (this.faults.kubeconfigTruncate ?? 0));
    const size = Math.max(1, this.faults.kubeconfigChunkSize);
    const drop = this.faults.kubeconfigDrop;
    let chunks = 0;
    for (let off = 0; off < archive.length; off += size) {
      if (drop && drop.times > 0 && chunks === drop.afterChunks) {
        drop.times--;
        if (!drop.hard) {
          call.emit('error', grpcError(grpc.status.UNAVAILABLE, 'connection dropped mid-stream'));
          return;
        }
        const mode = this.mode as 'maintenance' | 'configured';
        this.server?.forceShutdown();
        this.server = undefined;
        this.later(30, () => void this.serve(mode).catch(() => { this.mode = 'down'; }));
        return;
      }
      const hang = this.faults.kubeconfigHang;
      if (hang && hang.times > 0 && chunks === hang.afterChunks) {
        hang.times--;
        return; // neither more data nor an end: only the client's deadline ends this call
      }
      call.write({ metadata: { hostname: this.opts.hostname, error: '' }, bytes: archive.subarray(off, off + size) });
      chunks++;
    }
    call.end();
  }
}
