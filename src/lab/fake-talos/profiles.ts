// Lab and test use only.
// What a Talos node does, per version, as read in upstream siderolabs/talos
// source (git tags named per row; paths are relative to the repository
// root). Each row is one behaviour; the fake node (node.ts, machine-api.ts)
// reads these values and nothing else for the behaviours listed here. To add
// a behaviour: add a row with its source, give every profile a value, and
// read it from the node. To add a version: add a profile name and a value in
// every row.
//
// Notes on the sources, restated in our own words:
// - ≤ v1.12 a node without config serves a separate "maintenance" gRPC
//   server (internal/app/maintenance/server.go). Its roles come from the
//   authz injector in mode ReadOnlyWithAdminOnSiderolink
//   (internal/app/machined/pkg/controllers/runtime/maintenance_service.go,
//   pkg/grpc/middleware/authz/injector.go): a client without a certificate
//   gets os:reader, a SideroLink peer os:admin. The server embeds the
//   generated "unimplemented" MachineService, so every method it does not
//   define answers Unimplemented ("method X not implemented"); Version,
//   Reset, Upgrade answer Unimplemented unless the caller is os:admin.
// - From v1.13.0 (commit b7d70cf62 "feat: unify maintenance and regular
//   APIs") apid terminates the network API in both modes. While a
//   maintenance request exists, APIServiceConfig sets ReadonlyRoleMode and
//   SkipVerifyingClientCert (internal/app/machined/pkg/controllers/runtime/
//   api_service_config.go), so a client without a certificate is admitted
//   as os:reader and machined's normal handlers answer, under machined's
//   per-method rules (internal/app/machined/pkg/system/services/machined.go).
//   Once configured, apid verifies client certificates again.
import { status } from '@grpc/grpc-js';

export const PROFILES = ['v1.11', 'v1.12', 'v1.13+'] as const;
export type ProfileName = (typeof PROFILES)[number];
export const NEWEST_PROFILE: ProfileName = 'v1.13+';

export type Method = 'ApplyConfiguration' | 'Bootstrap' | 'EtcdMemberList' | 'Hostname' | 'Kubeconfig' | 'Reboot' | 'Reset'
  | 'ServiceList' | 'Upgrade' | 'Version' | 'Disks' | 'ResourceGet' | 'ResourceList';
export type ApplyMode = 'REBOOT' | 'AUTO' | 'NO_REBOOT' | 'STAGED' | 'TRY';

/** A gRPC status a call ends with. */
export interface Refusal { code: status; details: string }
/** What a call does in maintenance: runs the handler, or is refused before it. */
export type MaintenanceCall = 'answers' | Refusal;
/**
 * ApplyConfiguration in maintenance, per requested mode: refused, or
 * accepted with the reply's mode field (undefined: left unset, which reads as
 * REBOOT, the enum's zero value) and whether the node goes on to install.
 */
export type MaintenanceApply = Refusal | { replyMode: ApplyMode | undefined; modeDetails: string; installs: boolean };

const unimplemented = (details: string): Refusal => ({ code: status.UNIMPLEMENTED, details });
const notAuthorized: Refusal = { code: status.PERMISSION_DENIED, details: 'not authorized' };

interface Row<T> { source: string; values: Record<ProfileName, T> }
const same = <T>(v: T): Record<ProfileName, T> => ({ 'v1.11': v, 'v1.12': v, 'v1.13+': v });

/** ≤ v1.12: the maintenance server's answers to an os:reader client. */
const MAINTENANCE_SERVER_CALLS: Record<Method, MaintenanceCall> = {
  ApplyConfiguration: 'answers', // no role check in the handler
  Disks: 'answers', // storaged.Server registered with MaintenanceMode: true
  ResourceGet: 'answers', ResourceList: 'answers', // the COSI state server, behind access.go's filter (resources.ts)
  Version: unimplemented('API is not implemented in maintenance mode'), // assertAdminRole
  Reset: unimplemented('API is not implemented in maintenance mode'),
  Upgrade: unimplemented('API is not implemented in maintenance mode'),
  Bootstrap: unimplemented('method Bootstrap not implemented'), // generated UnimplementedMachineServiceServer
  EtcdMemberList: unimplemented('method EtcdMemberList not implemented'),
  Hostname: unimplemented('method Hostname not implemented'),
  Kubeconfig: unimplemented('method Kubeconfig not implemented'),
  Reboot: unimplemented('method Reboot not implemented'),
  ServiceList: unimplemented('method ServiceList not implemented'),
};

/** v1.13+: machined's rules for an os:reader client; the handlers run when the rule admits it. */
const APID_READONLY_CALLS: Record<Method, MaintenanceCall> = {
  ApplyConfiguration: 'answers', // rules admit os:reader "for maintenance only, verified in the handler"
  Disks: 'answers', Version: 'answers', Hostname: 'answers', ServiceList: 'answers', ResourceGet: 'answers', ResourceList: 'answers',
  EtcdMemberList: unimplemented('machine type is not set, cannot use member list API'), // machinehelper.CheckControlplane without a config
  Bootstrap: notAuthorized, Kubeconfig: notAuthorized, Reset: notAuthorized, Upgrade: notAuthorized, Reboot: notAuthorized,
};

const notInMaintenance = (mode: string) => unimplemented(`apply configuration --mode='${mode}' is not supported in maintenance mode`);
const LEGACY_ACCEPTED = { replyMode: undefined, modeDetails: '', installs: true } as const;

export const BEHAVIOURS = {
  maintenanceCalls: {
    source: 'internal/app/maintenance/server.go@v1.11.5,v1.12.11 (Register, assertAdminRole); '
      + 'internal/app/machined/pkg/system/services/machined.go rules + internal/app/apid/service.go@v1.13.0',
    values: { 'v1.11': MAINTENANCE_SERVER_CALLS, 'v1.12': MAINTENANCE_SERVER_CALLS, 'v1.13+': APID_READONLY_CALLS },
  } satisfies Row<Record<Method, MaintenanceCall>>,

  maintenanceApply: {
    source: 'internal/app/maintenance/server.go@v1.11.5,v1.12.11 ApplyConfiguration (TRY/REBOOT/AUTO fall through, reply sets only Warnings); '
      + 'internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go@v1.13.0 ApplyConfiguration (inMaintenance: REBOOT→NO_REBOOT, AUTO→NO_REBOOT)',
    values: {
      'v1.11': { AUTO: LEGACY_ACCEPTED, REBOOT: LEGACY_ACCEPTED, TRY: LEGACY_ACCEPTED, NO_REBOOT: notInMaintenance('no-reboot'), STAGED: notInMaintenance('staged') },
      'v1.12': { AUTO: LEGACY_ACCEPTED, REBOOT: LEGACY_ACCEPTED, TRY: LEGACY_ACCEPTED, NO_REBOOT: notInMaintenance('no-reboot'), STAGED: notInMaintenance('staged') },
      'v1.13+': {
        AUTO: { replyMode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot', installs: true },
        REBOOT: { replyMode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot', installs: true },
        NO_REBOOT: { replyMode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot', installs: true },
        TRY: { replyMode: 'TRY', modeDetails: 'Applied configuration without a reboot', installs: true },
        // Only persisted: the node carries on in maintenance until it reboots.
        STAGED: { replyMode: 'STAGED', modeDetails: 'Staged configuration to be applied after the next reboot', installs: false },
      },
    },
  } satisfies Row<Record<ApplyMode, MaintenanceApply>>,

  /** ApplyConfiguration in maintenance with bytes that are not a config at all (configloader.NewFromBytes fails). */
  maintenanceApplyUnparsable: {
    source: 'internal/app/maintenance/server.go@v1.11.5,v1.12.11 ("failed to parse config", a plain error: Unknown); v1alpha1_server.go@v1.13.0 (InvalidArgument)',
    values: {
      'v1.11': { code: status.UNKNOWN, details: 'failed to parse config' },
      'v1.12': { code: status.UNKNOWN, details: 'failed to parse config' },
      'v1.13+': { code: status.INVALID_ARGUMENT, details: 'failed to parse config' },
    },
  } satisfies Row<Refusal>,

  /** A configured control plane's EtcdMemberList (query_local) before its etcd runs: never an empty list. */
  etcdMemberListBeforeEtcd: {
    source: 'v1alpha1_server.go EtcdMemberList + internal/pkg/etcd/etcd.go NewLocalClient (localhost:2379) @v1.11.5,v1.12.11,v1.13.0',
    values: same<Refusal>({ code: status.UNAVAILABLE, details: 'connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:2379: connect: connection refused"' }),
  } satisfies Row<Refusal>,

  /** The same without query_local: the etcd client is built from discovered control plane endpoints. */
  etcdMemberListClusterBeforeEtcd: {
    source: 'internal/pkg/etcd/etcd.go NewClientFromControlPlaneIPs / GetEndpoints @v1.11.5',
    values: same<Refusal>({ code: status.UNKNOWN, details: 'no controlplane endpoints discovered yet' }),
  } satisfies Row<Refusal>,

  /** EtcdMemberList on a worker (checkControlplane / machinehelper.CheckControlplane). */
  etcdMemberListOnWorker: {
    source: 'v1alpha1_server.go checkControlplane @v1.11.5,v1.12.11; internal/app/internal/machinehelper/machinehelper.go @v1.13.0',
    values: same<Refusal>(unimplemented('member list is only available on control plane nodes')),
  } satisfies Row<Refusal>,

  /**
   * The etcd service in ServiceList on a configured control plane before
   * Bootstrap: PreFunc blocks in buildInitialCluster ("please run talosctl
   * bootstrap"), and the service runner reports Preparing while PreFunc runs;
   * no health check has run yet.
   */
  etcdServiceBeforeBootstrap: {
    source: 'internal/app/machined/pkg/system/services/etcd.go (PreFunc, buildInitialCluster) + system/service_runner.go (StatePreparing) @v1.11.5,v1.12.11,v1.13.0',
    values: same({ state: 'Preparing', health: { unknown: true, healthy: false, last_message: '' } }),
  } satisfies Row<{ state: string; health: { unknown: boolean; healthy: boolean; last_message: string } }>,

  etcdServiceAfterJoin: {
    source: 'system/service_runner.go (StateRunning) + etcd.go HealthFunc @v1.11.5,v1.12.11,v1.13.0',
    values: same({ state: 'Running', health: { unknown: false, healthy: true, last_message: '' } }),
  } satisfies Row<{ state: string; health: { unknown: boolean; healthy: boolean; last_message: string } }>,

  /** Bootstrap on a node whose etcd data directory is not empty: a second call, or a member that joined. */
  bootstrapDataDirNotEmpty: {
    source: 'v1alpha1_server.go Bootstrap (os.ReadDir(constants.EtcdDataPath)) @v1.11.5,v1.12.11,v1.13.0',
    values: same<Refusal>({ code: status.ALREADY_EXISTS, details: 'etcd data directory is not empty' }),
  } satisfies Row<Refusal>,

  bootstrapOnWorker: {
    source: 'v1alpha1_server.go Bootstrap @v1.11.5,v1.12.11 (machine type check); @v1.13.0 machinehelper.CheckControlplane',
    values: {
      'v1.11': { code: status.FAILED_PRECONDITION, details: 'bootstrap can only be performed on a control plane node' },
      'v1.12': { code: status.FAILED_PRECONDITION, details: 'bootstrap can only be performed on a control plane node' },
      'v1.13+': unimplemented('bootstrap is only available on control plane nodes'),
    },
  } satisfies Row<Refusal>,

  /** Disks' device_name: filepath.Join("/dev", id); serial, wwid, bus_path from the block.Disk resource. */
  disksDeviceName: {
    source: 'internal/app/storaged/server.go Disks @v1.11.5,v1.12.11,v1.13.0',
    values: same<'full-path'>('full-path'),
  } satisfies Row<'full-path' | 'bare'>,

  /** Kubeconfig: one common.Data message carrying the whole gzip tar (tar writer never closed: no end blocks). */
  kubeconfigStream: {
    source: 'v1alpha1_server.go Kubeconfig @v1.11.5,v1.12.11,v1.13.0',
    values: same<'single-message'>('single-message'),
  } satisfies Row<'single-message'>,

  kubeconfigOnWorker: {
    source: 'v1alpha1_server.go checkControlplane("kubeconfig") @v1.11.5,v1.12.11; machinehelper.CheckControlplane @v1.13.0',
    values: same<Refusal>(unimplemented('kubeconfig is only available on control plane nodes')),
  } satisfies Row<Refusal>,

  /**
   * Reset on a configured node: graceful runs the LeaveEtcd task (member
   * removed) before wiping; not graceful wipes without leaving. Wiping
   * EPHEMERAL empties /var/lib/etcd; the node reboots into maintenance.
   */
  resetEtcd: {
    source: 'v1alpha1_server.go Reset + runtime/v1alpha1/v1alpha1_sequencer.go Sequencer.Reset (LeaveEtcd only when graceful) + v1alpha1_sequencer_tasks.go LeaveEtcd @v1.11.5,v1.12.11,v1.13.0; /var/lib/etcd lives on EPHEMERAL (pkg/machinery/constants/constants.go @v1.12.0)',
    values: same<{ gracefulLeaves: boolean; wipeLosesData: boolean }>({ gracefulLeaves: true, wipeLosesData: true }),
  } satisfies Row<{ gracefulLeaves: boolean; wipeLosesData: boolean }>,

  /** Version.tag the fake reports. */
  versionTag: {
    source: 'tags v1.11.5, v1.12.11, v1.13.0',
    values: { 'v1.11': 'v1.11.5', 'v1.12': 'v1.12.11', 'v1.13+': 'v1.13.0' },
  } satisfies Row<string>,
};

export type Behaviours = typeof BEHAVIOURS;
export type Profile = { name: ProfileName } & { [K in keyof Behaviours]: Behaviours[K]['values'][ProfileName] };

export function profile(name: ProfileName): Profile {
  const out: Record<string, unknown> = { name };
  for (const [key, row] of Object.entries(BEHAVIOURS)) out[key] = (row.values as Record<ProfileName, unknown>)[name];
  return out as Profile;
}

/** The profile for a Talos version string (v1.11.5 → v1.11); unknown or newer minors get the newest profile. */
export function profileFor(talosVersion: string | undefined): ProfileName {
  const m = /^v?1\.(\d+)\./.exec(talosVersion ?? '');
  if (!m) return NEWEST_PROFILE;
  const minor = Number(m[1]);
  if (minor <= 11) return 'v1.11';
  if (minor === 12) return 'v1.12';
  return 'v1.13+';
}

export function isProfileName(s: string): s is ProfileName {
  return (PROFILES as readonly string[]).includes(s);
}
