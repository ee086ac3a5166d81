// `rackboot upgrade`: rolls the inventory's talosVersion onto installed
// nodes, one step at a time, through the persisted rollout (src/day2/).
import { recordedSchematic } from '../day2/applied.js';
import { planUpgrade, resumeRollout } from '../day2/rollout-plan.js';
import { UpgradeRollout } from '../day2/rollout.js';
import { K8S_ROLLOUT_KIND, KubernetesRollout, planK8sRoll } from '../day2/k8s-roll.js';
import { defaultKubernetesVersion } from '../talos/config/versions.js';
import { fetchAssets } from '../factory/assets.js';
import { installerImage, schematicId } from '../factory/schematic.js';
import { rolloutsOf } from '../store/pg/pg-rollouts.js';
import { SharedStore } from '../store/pg/shared-store.js';
import type { Store } from '../store/store.js';
import { TalosClient } from '../talos/client.js';
import { storeEndpoints, withTalosClient } from '../talos/endpoints.js';
import { checkK8sUpgrade } from '../day2/k8s-upgrade-checks.js';
import { kubeconfigPath } from '../talos/health.js';
import { loadAdminIdentity, talosconfigPath } from '../talos/talosconfig.js';
import { storedKubeconfigCheck } from '../day2/kube-node.js';
import { clusterInputs } from './cluster-inputs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type Io } from './command.js';
import { openStoreForCli } from './open-store.js';

const UPGRADABLE = ['installed', 'ready'];

function printRollout(store: Store, io: Io): void {
  const rollouts = rolloutsOf(store);
  const r = rollouts.latest();
  if (!r) {
    io.out('no rollout');
    return;
  }
  const what = r.kind === K8S_ROLLOUT_KIND ? `Kubernetes ${r.targetVersion}` : `Talos ${r.targetVersion} (${r.image})`;
  io.out(`rollout ${r.id}: ${what} ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
  for (const n of rollouts.nodes(r.id)) {
    const took = n.startedAt && n.finishedAt ? ` ${Math.round((n.finishedAt - n.startedAt) / 1000)}s` : '';
    io.out(`  ${n.node.padEnd(16)} ${n.role.padEnd(12)} ${n.state.padEnd(9)} ${n.versionBefore} -> ${n.versionAfter || r.targetVersion}${took}${n.reason ? `  (${n.reason})` : ''}`);
  }
}

export const upgrade: Command = {
  name: ['upgrade'],
  summary: 'roll the inventory\'s Talos version onto installed nodes',
  usage: `rackboot upgrade (--all | NODE...) [--talosconfig FILE] [--allow-single-etcd]
rackboot upgrade --kubernetes [--talosconfig FILE]
rackboot upgrade --resume [--talosconfig FILE] [--allow-single-etcd]
rackboot upgrade --status

Upgrades installed nodes to the inventory's talosVersion and schematic (a
new schematic at the same version is rolled out too) with the installer
<factory host>/metal-installer/<schematic>:<version> (settings factory.url,
so a mirror is used when configured). First the boot assets of the target
are fetched (a node reimaged mid-rollout then installs the new version);
then control planes one at a time, each only after the etcd quorum gate
passes (every member started and healthy, a majority left without it; a
2-member etcd is refused), then workers upgrade.parallelism at a time.
After each node rackboot waits until it answers on the new version with
apid and kubelet healthy (and etcd passing the gate) and its Kubernetes
node is Ready (asked through DATA_DIR/kubeconfig) before the next.
A failure pauses the rollout with the reason; --resume continues it (and
sends again the upgrades of nodes marked failed). The rollout is kept in the
store: after an interruption --resume picks up where it was, asking nodes
their version instead of sending an upgrade twice.
--allow-single-etcd lets a one-member etcd through the gate (etcd is down
while that node reboots). --status prints the latest rollout.

--kubernetes rolls the inventory's kubernetesVersion onto every installed
node as talosctl upgrade-k8s does: kube-apiserver, then
kube-controller-manager, then kube-scheduler, each on one control plane
after another, then kube-proxy, then every kubelet (control planes first),
each one image field of the node's active config applied in place
(NO_REBOOT) behind the etcd gate, waiting for the static pod to run the new
image and be Ready (the kubelet: its Kubernetes node Ready). Persisted and
resumed like a Talos rollout; a change that landed is never sent again.`,
  options: {
    all: { type: 'boolean' }, resume: { type: 'boolean' }, status: { type: 'boolean' }, kubernetes: { type: 'boolean' },
    talosconfig: { type: 'string' }, 'allow-single-etcd': { type: 'boolean' },
  },
  async run(args, io) {
    const { all, resume, status, kubernetes } = args.values;
    const picked = args.positionals;
    const modes = [Boolean(all), Boolean(resume), Boolean(status), Boolean(kubernetes), picked.length > 0].filter(Boolean).length;
    if (modes !== 1) throw new UsageError('give exactly one of --all, NODE..., --kubernetes, --resume, --status');
    const inputs = clusterInputs(args, io, { secrets: false });
    if (!inputs) return EXIT_FAILURE;
    const { settings, inventory } = inputs;
    const store = openStoreForCli(settings, io);
    if (!store) return EXIT_FAILURE;
    try {
      if (status) {
        printRollout(store, io);
        return EXIT_OK;
      }
      const admin = loadAdminIdentity((args.values.talosconfig as string | undefined) ?? talosconfigPath(settings.dataDir));
      const connect = (ep: string) => TalosClient.configured(ep, admin);
      const endpoints = storeEndpoints(store);
      const endpointOf = (name: string) => { const n = store.getNode(name); return n ? endpoints(n) : undefined; };
      let id: number;
      if (resume) {
        id = resumeRollout(store).id;
      } else if (kubernetes) {
        const version = inventory.cluster.kubernetesVersion ?? defaultKubernetesVersion(inventory.cluster.talosVersion);
        const nodes = store.listNodes().filter((n) => UPGRADABLE.includes(n.state)).map((n) => ({ name: n.name, role: n.role }));
        // upgrade-k8s's refusals (path, Talos support) come before anything is recorded.
        await checkK8sUpgrade((node, fn) => withTalosClient(connect, endpointOf(node), `no address known for ${node}`, fn), nodes, version);
        id = planK8sRoll(store, nodes, version);
      } else {
        const open = rolloutsOf(store).active();
        if (open) throw new Error(`rollout ${open.id} is ${open.state}${open.reason ? ` (${open.reason})` : ''}; continue it with --resume`);
        const nodes = store.listNodes().filter((n) => (all ? UPGRADABLE.includes(n.state) : picked.includes(n.name)));
        for (const name of picked) {
          const n = store.getNode(name);
          if (!n) throw new Error(`${name} is not in the inventory`);
          if (!UPGRADABLE.includes(n.state)) throw new Error(`${name} is ${n.state}, not installed`);
        }
        const schematic = schematicId(inventory.cluster.schematic);
        const version = inventory.cluster.talosVersion;
        id = await planUpgrade({ db: store, connect, endpointOf, recordedSchematic: (n) => recordedSchematic(store, n) }, nodes.map((n) => ({ name: n.name, role: n.role })),
          { version, schematic, image: installerImage(settings.factory.url, schematic, version) });
      }
      if (store instanceof SharedStore) {
        // Several appliances: the one leading the Talos steps runs it (src/day2/rollout-service.ts), never this process.
        io.out(`rollout ${id} is recorded in the shared store; the appliance leading the Talos steps runs it (\`rackboot upgrade --status\` follows it)`);
        printRollout(store, io);
        return EXIT_OK;
      }
      if (rolloutsOf(store).get(id)!.kind === K8S_ROLLOUT_KIND) {
        const k8s = await new KubernetesRollout({
          db: store.db, connect, endpointOf,
          controlPlanes: () => store.listNodes().filter((n) => n.role === 'controlplane')
            .flatMap((n) => { const endpoint = endpoints(n); return endpoint ? [{ name: n.name, endpoint }] : []; }),
          kubeNodeNotReady: storedKubeconfigCheck(kubeconfigPath(settings.dataDir)),
          returnTimeoutMs: settings.upgrade.returnSeconds * 1000, pollMs: 2000,
        }).run(id);
        printRollout(store, io);
        return k8s.state === 'done' ? EXIT_OK : EXIT_FAILURE;
      }
      const rollout = new UpgradeRollout({
        db: store.db, connect, endpointOf,
        fetchAssets: async (version) => {
          await fetchAssets({ factoryUrl: settings.factory.url, assetsDir: settings.assetsDir, db: store.db, schematic: inventory.cluster.schematic, version, arch: 'amd64' });
        },
        parallelism: settings.upgrade.parallelism, returnTimeoutMs: settings.upgrade.returnSeconds * 1000, pollMs: 2000,
        allowSingleMember: args.values['allow-single-etcd'] === true,
        kubeNodeNotReady: storedKubeconfigCheck(kubeconfigPath(settings.dataDir)),
      });
      const r = await rollout.run(id);
      printRollout(store, io);
      return r.state === 'done' ? EXIT_OK : EXIT_FAILURE;
    } catch (err) {
      io.err(`rackboot upgrade: ${(err as Error).message}`);
      return EXIT_FAILURE;
    } finally {
      store.close();
    }
  },
};
