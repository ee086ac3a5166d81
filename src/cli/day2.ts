// `rackboot plan` and `rackboot apply`: day-2 config changes by hand, over
// mTLS with the talosconfig admin identity, from the inventory file as it
// is now (src/day2/: plan.ts, rollout.ts).
import { userInfo } from 'node:os';
import { quorumHealthGate, quorumRebootGate, storeControlPlanes, type QuorumGateDeps } from '../day2/config-gates.js';
import { formatPlan, planNodes } from '../day2/plan.js';
import { ConfigRollout, formatOutcomes } from '../day2/config-rollout.js';
import { inventoryDesiredState, talosConfigPort } from '../day2/talos-port.js';
import { resolvedInstallDisk } from '../talos/config/node-config.js';
import { configuredPublicUrl } from '../net/public-url.js';
import { Store } from '../store/store.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints } from '../talos/endpoints.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { clusterInputs } from './cluster-inputs.js';
import { openStore } from './open-store.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type Io, type ParsedArgs } from './command.js';

function day2Deps(args: ParsedArgs, io: Io) {
  const inputs = clusterInputs(args, io, { secrets: true });
  if (!inputs) return undefined;
  const { settings, inventory, secrets } = inputs;
  const admin = loadAdminIdentity((args.values.talosconfig as string | undefined) ?? talosconfigPath(settings.dataDir));
  // With scaleOut.postgres: the shared nodes (their states and addresses as every appliance saw them).
  const store = openStore(settings);
  const endpointOf = storeEndpoints(store);
  const connect = (ep: string) => TalosClient.configured(ep, admin, { policy: { retries: 1 } });
  const desired = inventoryDesiredState({
    inventory: () => inventory, secrets: () => secrets!, settings: () => settings,
    // As `rackboot config` renders it: the KmsgLogConfig names the configured public URL.
    publicUrl: () => configuredPublicUrl(settings), installDiskOf: resolvedInstallDisk(store),
  });
  return { store, desired, port: talosConfigPort(connect, endpointOf), connect, endpointOf };
}

function namesOf(args: ParsedArgs, store: Store): string[] | undefined {
  const known = new Set(store.listNodes().map((n) => n.name));
  const unknown = args.positionals.filter((n) => !known.has(n));
  if (unknown.length) throw new UsageError(`no node ${unknown.map((n) => JSON.stringify(n)).join(', ')} in the store (nodes: ${[...known].join(', ')})`);
  return args.positionals.length ? args.positionals : undefined;
}

export const plan: Command = {
  name: ['plan'],
  summary: 'show, per installed node, what differs from the inventory',
  usage: `rackboot plan [NODE…] [--json] [--talosconfig FILE]

For every installed node (or the ones named): the Talos version, schematic
and Kubernetes version it runs against the inventory's, and whether its
machine config moved. For a config that moved, the node itself is asked with
a dry-run ApplyConfiguration (mode AUTO): the diff it prints, with every
secret value redacted, and whether applying it needs a reboot. A config
Talos rejected earlier is shown with its reason. Changes nothing.`,
  options: { talosconfig: { type: 'string' }, json: { type: 'boolean' } },
  async run(args, io) {
    const deps = day2Deps(args, io);
    if (!deps) return EXIT_FAILURE;
    try {
      const plans = await planNodes(deps, namesOf(args, deps.store));
      if (args.values.json) io.out(JSON.stringify(plans, null, 2));
      else io.out(plans.length ? formatPlan(plans) : 'no installed nodes');
      return EXIT_OK;
    } finally {
      deps.store.close();
    }
  },
};

export const apply: Command = {
  name: ['apply'],
  summary: "send installed nodes the inventory's config (mode AUTO)",
  usage: `rackboot apply (NODE… | --all) [--gate-timeout SECONDS] [--allow-single-etcd] [--talosconfig FILE]

Sends each named installed node (--all: every one) whose config moved its
new machine config with mode AUTO; Talos applies it in place when it can,
else reboots. A dry run first tells which: in-place changes go out together,
reboots one node at a time (control planes first). Before a control plane
reboots, the etcd quorum gate of \`rackboot upgrade\` runs (every member
started and healthy, a majority left without it; a 2-member etcd is refused;
a 1-member one only with --allow-single-etcd); a refusal holds it and the
rest. Each node must answer on its new config (a control plane: with etcd
passing the gate again) before the next; a node that does not come back
within --gate-timeout (default 900) holds the rest. A config Talos rejects is
recorded on the node and not sent again until the inventory changes. A node
whose Talos version, schematic or Kubernetes version also moved is left for
the upgrade rollout. Exit 1 when anything was rejected, held, left or failed.`,
  options: { talosconfig: { type: 'string' }, all: { type: 'boolean' }, 'gate-timeout': { type: 'string' }, 'allow-single-etcd': { type: 'boolean' } },
  async run(args, io) {
    const all = args.values.all === true;
    if (all === args.positionals.length > 0) throw new UsageError('give NODE names or --all, not both and not neither');
    const timeout = args.values['gate-timeout'] === undefined ? 900 : Number(args.values['gate-timeout']);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError('--gate-timeout must be a positive number of seconds');
    const deps = day2Deps(args, io);
    if (!deps) return EXIT_FAILURE;
    try {
      const names = all ? 'all' : namesOf(args, deps.store)!;
      const gates: QuorumGateDeps = {
        connect: deps.connect, endpointOf: deps.endpointOf, controlPlanes: storeControlPlanes(deps.store, deps.endpointOf),
        timeoutMs: timeout * 1000, intervalMs: 2000, allowSingleMember: args.values['allow-single-etcd'] === true,
      };
      const rollout = new ConfigRollout({
        store: deps.store, desired: deps.desired, port: deps.port, gate: quorumHealthGate(gates), beforeReboot: quorumRebootGate(gates), actor: `cli:${userInfo().username}`,
      });
      const out = await rollout.run(names);
      io.out(out.length ? formatOutcomes(out) : 'no installed nodes');
      return out.some((o) => ['rejected', 'held', 'error', 'needs-upgrade'].includes(o.kind)) ? EXIT_FAILURE : EXIT_OK;
    } finally {
      deps.store.close();
    }
  },
};
