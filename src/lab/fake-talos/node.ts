// Lab and test use only: never started by `rackboot serve`.
// A fake Talos node that speaks the machine API on the wire like the real
// one: same protobuf names and numbers (rackboot's subset, loaded from
// src/talos/proto), maintenance mode with a self-signed cert and no client
// cert, configured mode with mTLS that admits only clients of the config's
// OS CA, with roles checked per method as upstream does. What it answers
// follows a version profile (profiles.ts: each behaviour with the upstream
// file and tag it comes from). Faults (slow answers, dropped streams,
// metadata.error, gRPC statuses) can be injected per method while it runs.
import * as grpc from '@grpc/grpc-js';
import { talosApi } from '../../talos/proto-load.js';
import { parseMachineConfig, type FakeEtcd, type CertAndKey, type ConfigValidator, type ParsedConfig } from './cluster.js';
import { configuredHandlers, maintenanceHandlers, type Handler, type NodeApi } from './machine-api.js';
import { realEtcdHandlers, REAL_ETCD_ROLES } from './real-etcd-api.js';
import { hasLifecycleService, lifecycleUpgrade, upgradeHandlers, UPGRADE_ROLES } from './upgrade.js';
import { imagePullHandlers, IMAGE_PULL_ROLES } from './image-pull.js';
import type { RealEtcdCluster } from './real-etcd.js';
import { etcdDownWhileRebooting } from './reboot-etcd.js';
import type { FakeMachine } from './resources.js';
import { NEWEST_PROFILE, profile, type ApplyMode, type Method, type Profile, type ProfileName, type Refusal } from './profiles.js';

export type { Method } from './profiles.js';

export interface Faults {
  delayMs: Partial<Record<Method, number>>;
  /** Answer with messages[0].metadata.error set. */
  metadataError: Partial<Record<Method, string>>;
  /** Fail the next N calls with a gRPC status. */
  status: Partial<Record<Method, { code: grpc.status; details: string; times: number }>>;
  /** Split the kubeconfig stream into chunks of this many bytes; unset: one message, as upstream sends it. */
  kubeconfigChunkSize?: number;
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

/** A disk as the node's block.Disk resource has it: `id` is the kernel name (sda), never a path. */
export interface FakeDisk { device_name: string; size: number; model: string; serial?: string; wwid?: string; bus_path?: string; transport?: string; rotational?: boolean }

export interface FakeNodeOptions {
  host: string;
  port: number;
  hostname: string;
  /** Self-signed, served in maintenance mode. */
  maintenanceCert: CertAndKey;
  /** Signed by the OS CA, served once configured. */
  serverCert: CertAndKey;
  etcd: FakeEtcd;
  /** Which Talos version this node behaves as (profiles.ts); default the newest. */
  profile?: ProfileName;
  clusterName?: string;
  validate?: ConfigValidator;
  disks?: FakeDisk[];
  /** The rest of the machine its hardware resources describe (resources.ts). */
  machine?: FakeMachine;
  /** Raw image files behind its disks, by /dev path: a Reset wipes them for real (disk-images.ts). */
  diskImages?: Record<string, string>;
  /** Time between an accepted config and the API answering over mTLS (the "install"). */
  installDelayMs?: number;
  /**
   * How long after accepting Reset the node keeps running (and answering) its
   * config before it reboots wiped: upstream replies to Reset and runs the
   * reset sequence in a goroutine (leave etcd, wipe, reboot), so the API stays
   * up meanwhile (v1alpha1_server.go Reset, `go func() { s.Controller.Run(…
   * SequenceReset …) }()`, v1.12.0). Default 20 ms.
   */
  resetRebootDelayMs?: number;
  /** day2-rollout: a real etcd cluster with a member named after this hostname answers the etcd calls (real-etcd-api.ts). */
  realEtcd?: RealEtcdCluster;
}

/**
 * Roles allowed per method once configured, as upstream machined's
 * authorization rules have them (internal/app/machined/pkg/system/services/
 * machined.go, v1.11.5..v1.13.0). Roles come from the client cert's
 * Organization values.
 */
const READ = ['os:admin', 'os:operator', 'os:reader'];
const ROLES: Record<Method, string[]> = {
  ApplyConfiguration: ['os:admin'], Bootstrap: ['os:admin'], Kubeconfig: ['os:admin'], Reset: ['os:admin'], Upgrade: ['os:admin'],
  Reboot: ['os:admin', 'os:operator'],
  EtcdMemberList: [...READ, 'os:etcd:backup'], Hostname: READ, ServiceList: READ, Version: READ, Disks: READ,
  ResourceGet: READ, ResourceList: READ, // machined.go: /cosi.resource.State/Get and /List
};
export const grpcError = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });

export class FakeTalosNode implements NodeApi {
  mode: 'maintenance' | 'configured' | 'down' = 'down';
  config: ParsedConfig | undefined;
  readonly profile: Profile;
  readonly calls: Record<string, number> = {};
  readonly applied: { data: Buffer; mode: string }[] = [];
  readonly resets: unknown[] = [];
  /** Calls refused for their caller's role, or in maintenance, named by method. */
  readonly refused: string[] = [];
  faults: Faults = { delayMs: {}, metadataError: {}, status: {}, unhealthy: [] };
  private server: grpc.Server | undefined;
  private timers = new Set<NodeJS.Timeout>();

  constructor(readonly opts: FakeNodeOptions) {
    this.profile = profile(opts.profile ?? NEWEST_PROFILE);
  }

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

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => (this.timers.delete(t), fn()), ms);
    this.timers.add(t);
  }

  /** Tears the server down (every connection with it) and serves again after `ms`, like apid restarting. */
  restartApi(ms: number): void {
    const mode = this.mode as 'maintenance' | 'configured';
    this.server?.forceShutdown();
    this.server = undefined;
    this.later(ms, () => void this.serve(mode).catch(() => { this.mode = 'down'; }));
  }

  /** Reboots into `config` (apply-config.ts, mode REBOOT): the reply goes out, the API is gone for `ms`, then answers with it. */
  rebootInto(config: ParsedConfig, ms: number, booted?: () => void): void {
    // Upstream runs the reboot sequence in the background: the API answers a little longer.
    this.later(300, () => {
      this.server?.forceShutdown();
      this.server = undefined;
      this.mode = 'down';
      etcdDownWhileRebooting(this, ms);
      this.later(ms, () => {
        this.config = config;
        booted?.();
        this.serve('configured').catch(() => { this.mode = 'down'; });
      });
    });
  }

  /** The node rebooted with its STATE wiped: no config, maintenance mode. */
  rebootWiped(ms: number): void {
    this.later(ms, () => {
      this.config = undefined;
      this.serve('maintenance').catch(() => { this.mode = 'down'; });
    });
  }

  private async serve(mode: 'maintenance' | 'configured'): Promise<void> {
    // Leaving maintenance mode, upstream stops its server gracefully with a
    // 5 s limit (MaintenanceServiceController shutdownServer →
    // factory.ServerGracefulStop, internal/app/machined/pkg/controllers/
    // runtime/maintenance_service.go, v1.12.0): the ApplyConfiguration reply
    // that started the install still reaches the client.
    if (this.server) await gracefulStop(this.server, 5000);
    const creds = mode === 'maintenance'
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(this.opts.maintenanceCert.key), cert_chain: Buffer.from(this.opts.maintenanceCert.crt) }], false)
      : grpc.ServerCredentials.createSsl(Buffer.from(this.config!.osCaPem), [{ private_key: Buffer.from(this.opts.serverCert.key), cert_chain: Buffer.from(this.opts.serverCert.crt) }], true);
    const server = new grpc.Server();
    const api = talosApi();
    const configured = mode === 'configured' ? configuredHandlers(this) : undefined;
    const handlers = configured ? { ...configured, ...realEtcdHandlers(this), ...upgradeHandlers(this, configured), ...imagePullHandlers(this) } : maintenanceHandlers(this);
    const wrapped = Object.fromEntries(Object.entries(handlers).map(([m, fn]) => [m, this.wrap(m as Method, mode, fn)]));
    const { Disks, ResourceGet, ResourceList, ...machine } = wrapped;
    server.addService(api.MachineService.service, machine);
    server.addService(api.StorageService.service, { Disks: Disks! });
    if (configured && hasLifecycleService(this.opts.profile)) {
      server.addService(api.LifecycleService.service, { Upgrade: this.wrap('LifecycleUpgrade' as Method, mode, lifecycleUpgrade(this)) });
    }
    server.addService(api.ResourceState.service, { Get: ResourceGet!, List: ResourceList! });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(this.endpoint, creds, (err) => (err ? reject(err) : resolve())));
    this.server = server;
    this.mode = mode;
  }

  /** The refusal a call meets before its handler runs: maintenance rules (profile) or the configured roles. */
  private gate(method: Method, mode: 'maintenance' | 'configured', call: any): Refusal | undefined {
    if (mode === 'maintenance') {
      // Both upstream flavours treat a client without a certificate as os:reader (profiles.ts).
      const rule = this.profile.maintenanceCalls[method];
      return rule === 'answers' ? undefined : rule;
    }
    const o = call.getAuthContext?.()?.sslPeerCertificate?.subject?.O;
    const orgs = Array.isArray(o) ? o : o ? [o] : [];
    if (orgs.some((r: string) => (ROLES[method] ?? REAL_ETCD_ROLES[method] ?? UPGRADE_ROLES[method] ?? IMAGE_PULL_ROLES[method]!).includes(r))) return undefined;
    return { code: grpc.status.PERMISSION_DENIED, details: `not authorized: roles ${JSON.stringify(orgs)}` };
  }

  /** Counts, authorizes, delays and fault-injects every call before the real handler runs. */
  private wrap(method: Method, mode: 'maintenance' | 'configured', fn: Handler): Handler {
    return (call, cb) => {
      this.calls[method] = (this.calls[method] ?? 0) + 1;
      const fail = (e: Error) => (cb ? cb(e as grpc.ServiceError) : call.emit('error', e));
      // Decided now, while the caller's TLS session is known; applied after any injected delay, as a server-side refusal is.
      const refusal = this.gate(method, mode, call);
      const run = () => {
        const st = this.faults.status[method];
        if (st && st.times > 0) {
          st.times--;
          return fail(grpcError(st.code, st.details));
        }
        if (refusal) {
          this.refused.push(method);
          return fail(grpcError(refusal.code, refusal.details));
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

  /** Records an accepted config; with `installs`, the node installs, reboots and comes back configured. */
  accept(data: Buffer, mode: ApplyMode, parsed: ParsedConfig, installs: boolean): void {
    this.applied.push({ data: Buffer.from(data), mode });
    if (!installs) return;
    this.later(this.opts.installDelayMs ?? 50, () => {
      this.config = parsed;
      this.serve('configured').then(() => {
        if (parsed.type === 'controlplane') this.opts.etcd.controlPlaneUp(this.opts.hostname);
      }, () => { this.mode = 'down'; });
    });
  }

  parse(data: Buffer): ParsedConfig {
    return parseMachineConfig(Buffer.from(data), this.opts.validate);
  }
}

/** grpc-js tryShutdown (in-flight calls finish, no new ones), forced after `limitMs`. */
function gracefulStop(server: grpc.Server, limitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => (server.forceShutdown(), resolve()), limitMs);
    server.tryShutdown(() => (clearTimeout(force), resolve()));
  });
}
