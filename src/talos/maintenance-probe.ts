// Is the node at this endpoint Talos in maintenance mode? Asked with a
// client that presents no certificate, and answered from what upstream
// exposes to such a client:
// - Talos ≤ v1.12 serves a separate maintenance server
//   (internal/app/maintenance/server.go): Version is Unimplemented for a
//   caller without os:admin, and a client without a certificate is os:reader.
// - From v1.13.0 (commit "feat: unify maintenance and regular APIs") apid
//   admits a client without a certificate only while the maintenance request
//   exists (controllers/runtime/api_service_config.go sets
//   SkipVerifyingClientCert and ReadonlyRoleMode then), as os:reader, and
//   Version answers. A configured node of any version rejects the TLS
//   handshake of a client without a certificate, so an answer at all means
//   maintenance.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { TalosClient } from './client.js';
import { TalosCallError } from './errors.js';

/** Which of upstream's two maintenance APIs answered. */
export type MaintenanceApi = 'maintenance-service' | 'apid-readonly';

export type MaintenanceProbe =
  | { maintenance: true; api: MaintenanceApi; version?: string; how: string }
  | { maintenance: false; why: string };

export async function probeMaintenance(client: TalosClient): Promise<MaintenanceProbe> {
  try {
    const v = await client.version();
    const tag = v.version?.tag ?? '';
    return { maintenance: true, api: 'apid-readonly', version: tag, how: `Version answers a client without a certificate (Talos ${tag || 'version unknown'}, v1.13+ maintenance)` };
  } catch (err) {
    if (err instanceof TalosCallError && err.code === GrpcStatus.UNIMPLEMENTED) {
      return { maintenance: true, api: 'maintenance-service', how: 'Version is Unimplemented without a client certificate (Talos ≤ v1.12 maintenance service)' };
    }
    return { maintenance: false, why: (err as Error).message };
  }
}

/**
 * What the node applied, from ApplyConfiguration's reply. Mode REBOOT is the
 * enum's zero value, which is also what an unset field reads as; Talos ≤ v1.12's
 * maintenance service never sets it, so there it means "not reported".
 */
export function appliedModeText(requested: string, reported: string, api: MaintenanceApi): string {
  if (reported === 'REBOOT' && api === 'maintenance-service') return `requested ${requested}; the node reported no mode (Talos ≤ v1.12 maintenance leaves it unset)`;
  return `requested ${requested}; the node applied ${reported}`;
}
