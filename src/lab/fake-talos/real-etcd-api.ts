// Lab and test use only.
// The etcd calls of a configured fake control plane, answered by operating a
// real etcd cluster (real-etcd.ts) whose member for this node is named after
// its hostname. Upstream: machined's handlers in
// internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go and the
// client helpers in internal/pkg/etcd/etcd.go (both v1.12.0; unchanged in
// shape at v1.11.5 and v1.13.0). Restated:
// - every call first checks the machine type: a worker answers Unimplemented
//   "<api> is only available on control plane nodes" (checkControlplane);
// - EtcdMemberList with query_local asks the node's own member, otherwise a
//   client over every control plane's endpoint; both with WithRequireLeader,
//   so a member without a leader fails the call;
// - EtcdStatus asks the local member's Status (NewLocalClient);
// - EtcdForfeitLeadership: with one member it fails ("cannot forfeit
//   leadership, only one member"); when the local member leads, MoveLeader to
//   the first other member and answer that member's name; else answer "";
// - EtcdLeaveCluster removes the local member by ID (already gone counts as
//   done), retrying while etcd answers "unhealthy cluster" (the leader has
//   not yet been connected to a quorum long enough) for up to 5 minutes
//   (here: seconds), then stops etcd and removes its data directory;
// - EtcdRemoveMemberByID removes that member; an unknown ID is NotFound.
// Connection failures to etcd surface as Unavailable, etcd's own refusals as
// Unknown (a plain Go error through gRPC).
import * as grpc from '@grpc/grpc-js';
import { EtcdUnavailable, type RealEtcdCluster } from './real-etcd.js';

type Handler = (call: any, cb: grpc.sendUnaryData<unknown>) => void;

/** What these handlers need of the node. */
export interface RealEtcdNode {
  readonly opts: { hostname: string; realEtcd?: RealEtcdCluster };
  readonly config: { type: 'controlplane' | 'worker' } | undefined;
}

/** Upstream machined.go (v1.13.0) authorization rules for these methods. */
export const REAL_ETCD_ROLES: Record<string, string[]> = {
  EtcdStatus: ['os:admin', 'os:operator', 'os:reader', 'os:etcd:backup'],
  EtcdForfeitLeadership: ['os:admin'], EtcdLeaveCluster: ['os:admin'], EtcdRemoveMemberByID: ['os:admin'],
};

const err = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details }) as grpc.ServiceError;
const asGrpc = (e: unknown) => typeof (e as grpc.ServiceError).code === 'number' ? e as grpc.ServiceError
  : err(e instanceof EtcdUnavailable ? grpc.status.UNAVAILABLE : grpc.status.UNKNOWN, (e as Error).message);

/** The first member that answers and has a leader, as NewClientFromControlPlaneIPs + WithRequireLeader would reach. */
async function anyLedMember(etcd: RealEtcdCluster): Promise<string> {
  let last: unknown = new EtcdUnavailable('no etcd member answers');
  for (const name of etcd.names()) {
    if (!etcd.running(name)) continue;
    try {
      if ((await etcd.status(name)).leader !== '0') return name;
      last = new EtcdUnavailable('etcdserver: no leader');
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function ledLocal(etcd: RealEtcdCluster, hostname: string): Promise<string> {
  if (!etcd.running(hostname)) throw new EtcdUnavailable(`etcd at localhost:2379: connection refused`);
  if ((await etcd.status(hostname)).leader === '0') throw new EtcdUnavailable('etcdserver: no leader');
  return hostname;
}

/** Handlers to merge into the configured node's MachineService; empty when the node has no real etcd. */
export function realEtcdHandlers(n: RealEtcdNode): Record<string, Handler> {
  const etcd = n.opts.realEtcd;
  if (!etcd) return {};
  const me = n.opts.hostname;
  const md = { hostname: me, error: '' };
  const cpOnly = (api: string, run: (call: any) => Promise<object>): Handler => (call, cb) => {
    if (n.config?.type !== 'controlplane') return cb(err(grpc.status.UNIMPLEMENTED, `${api} is only available on control plane nodes`));
    run(call).then((m) => cb(null, { messages: [{ metadata: md, ...m }] }), (e) => cb(asGrpc(e)));
  };
  const localId = async () => (await etcd.status(me)).memberId;
  return {
    EtcdMemberList: cpOnly('member list', async (call) => {
      const via = call.request?.query_local ? await ledLocal(etcd, me) : await anyLedMember(etcd);
      const members = await etcd.memberList(via);
      return {
        legacy_members: members.map((m) => m.name),
        members: members.map((m) => ({ id: m.id, hostname: m.name, peer_urls: m.peerURLs, client_urls: m.clientURLs, is_learner: m.isLearner })),
      };
    }),
    EtcdStatus: cpOnly('etcd status', async () => {
      if (!etcd.running(me)) throw new EtcdUnavailable('etcd at localhost:2379: connection refused');
      const s = await etcd.status(me);
      return { member_status: { member_id: s.memberId, protocol_version: s.version, leader: s.leader, raft_index: s.raftIndex, raft_term: s.raftTerm, errors: s.errors, is_learner: s.isLearner } };
    }),
    EtcdForfeitLeadership: cpOnly('etcd forfeit leadership', async () => {
      const members = await etcd.memberList(await anyLedMember(etcd));
      if (members.length === 1) throw new Error('cannot forfeit leadership, only one member');
      const id = await localId();
      if ((await etcd.status(me)).leader !== id) return { member: '' };
      const to = members.find((m) => m.id !== id)!;
      await etcd.moveLeader(me, to.id);
      return { member: to.name };
    }),
    EtcdLeaveCluster: cpOnly('etcd leave', async () => {
      const id = await localId();
      const via = await anyLedMember(etcd);
      const members = await etcd.memberList(via);
      for (let tries = 0; members.some((m) => m.id === id); tries++) {
        try {
          await etcd.removeMember(via, id);
          break;
        } catch (e) {
          if (!/unhealthy cluster|server stopped/.test((e as Error).message) || tries >= 50) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      await etcd.kill(me);
      return {};
    }),
    EtcdRemoveMemberByID: cpOnly('etcd remove member', async (call) => {
      const id = String(call.request?.member_id ?? '0');
      const via = await anyLedMember(etcd);
      if (!(await etcd.memberList(via)).some((m) => m.id === id)) {
        throw err(grpc.status.NOT_FOUND, `failed to remove member ${id}: etcdserver: member not found`);
      }
      await etcd.removeMember(via, id);
      return {};
    }),
  };
}
