// What a control plane's etcd is, asked over mTLS the way upstream exposes it
// (Talos v1.11.5..v1.13.0):
// - EtcdMemberList with query_local asks the node's own etcd
//   (internal/pkg/etcd NewLocalClient). Before that etcd runs the call fails;
//   it never answers an empty list. Members mean etcd runs there.
// - ServiceList's etcd entry: a control plane not yet bootstrapped keeps the
//   service in Preparing (its PreFunc waits in buildInitialCluster, logging
//   "please run `talosctl bootstrap`"), or Waiting on its conditions (time
//   sync, addresses). Running/Starting means etcd is up or coming up.
import type { TalosClient } from './client.js';

export type EtcdStatus =
  /** The node's etcd answers with members. */
  | { kind: 'members'; names: string[] }
  /** etcd waits to be bootstrapped or to join: the service is not started and the member list fails. */
  | { kind: 'not-started'; service: string; error: string }
  /** The etcd service runs or starts, but no member list yet: etcd is coming up; never bootstrap it. */
  | { kind: 'starting'; service: string; error: string }
  /** No etcd service: not a control plane, or booted not far enough. */
  | { kind: 'no-service'; error: string }
  /** The node did not answer. */
  | { kind: 'unknown'; error: string };

const NOT_STARTED = ['Initialized', 'Preparing', 'Waiting'];

export async function etcdStatus(client: TalosClient): Promise<EtcdStatus> {
  let listError = '';
  try {
    const members = await client.etcdMemberList({ queryLocal: true, retry: false });
    if (members.length > 0) return { kind: 'members', names: members.map((m) => m.hostname || m.id) };
    listError = 'the member list is empty';
  } catch (err) {
    listError = (err as Error).message;
  }
  let services;
  try {
    services = await client.serviceList();
  } catch (err) {
    return { kind: 'unknown', error: `ServiceList: ${(err as Error).message}; EtcdMemberList: ${listError}` };
  }
  const etcd = services.find((s) => s.id === 'etcd');
  if (!etcd) return { kind: 'no-service', error: listError };
  if (NOT_STARTED.includes(etcd.state)) return { kind: 'not-started', service: etcd.state, error: listError };
  return { kind: 'starting', service: etcd.state, error: listError };
}

export function describeEtcd(s: EtcdStatus): string {
  switch (s.kind) {
    case 'members': return `etcd runs with ${s.names.length} member(s) (${s.names.join(', ')})`;
    case 'not-started': return `etcd service ${s.service}, member list fails (${s.error})`;
    case 'starting': return `etcd service ${s.service} but no member list yet (${s.error})`;
    case 'no-service': return `no etcd service (${s.error})`;
    case 'unknown': return `not answering: ${s.error}`;
  }
}
