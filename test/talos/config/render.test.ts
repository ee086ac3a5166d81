import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { ValidateFunction } from 'ajv';
import { machineConfigYaml, renderMachineConfig, type RenderInput } from '../../../src/talos/config/render.js';
import { PatchError } from '../../../src/talos/config/patch.js';
import type { SecretsBundle } from '../../../src/talos/secrets.js';
import type { Inventory, NodeSpec } from '../../../src/inventory/types.js';
import { compileTalosSchema, missingSchemas, SCHEMA_VERSIONS } from '../schema-helper.js';
import { defaultSettings, exampleInventory, testSecrets } from '../config-fixtures.js';

const noSchema = missingSchemas();
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('machine config', () => {
  let secrets: SecretsBundle;
  let inv: Inventory;
  const settings = { ...defaultSettings(), dhcp: { ...defaultSettings().dhcp, subnet: '10.77.0.0/24', gateway: '10.77.0.1', dns: ['10.77.0.1'] } };
  const validators: Record<string, ValidateFunction> = {};
  const renderAll = (node: NodeSpec, cluster = inv.cluster, s: RenderInput['settings'] = settings) =>
    renderMachineConfig({ cluster, node, secrets, settings: s }) as Doc[];
  const render = (node: NodeSpec, cluster = inv.cluster) => renderAll(node, cluster)[0]!;

  beforeAll(async () => {
    secrets = await testSecrets();
    inv = exampleInventory();
    if (!noSchema) for (const v of SCHEMA_VERSIONS) validators[v] = compileTalosSchema(v);
  }, 60_000);

  // Validate what a node would receive: the YAML text, split into its documents and parsed back.
  const expectValid = (docs: Doc[], versions: readonly string[] = SCHEMA_VERSIONS) => {
    const parsed = parseAllDocuments(machineConfigYaml(docs)).map((d) => d.toJS());
    expect(parsed).toHaveLength(docs.length);
    for (const v of versions) for (const data of parsed) {
      const ok = validators[v]!(data);
      expect(ok ? [] : validators[v]!.errors, `schema ${v}, document ${data.kind ?? 'v1alpha1'}`).toEqual([]);
    }
  };

  it.skipIf(noSchema)('every node of the example inventory (Talos v1.11) validates against the v1.11 schema', () => {
    expect(inv.nodes).toHaveLength(5);
    for (const node of inv.nodes) expectValid(renderAll(node), ['v1.11']);
  });

  it.skipIf(noSchema)('every node of the v1.12 example inventory, with its KmsgLogConfig, validates against the v1.12 schema', () => {
    const v112 = exampleInventory('cluster-v1.12.yaml');
    expect(v112.cluster.talosVersion).toBe('v1.12.0');
    expect(v112.nodes.map((n) => n.name)).toEqual(inv.nodes.map((n) => n.name));
    for (const node of v112.nodes) {
      const docs = renderMachineConfig({ cluster: v112.cluster, node, secrets, settings, kernelLogUrl: 'udp://10.77.0.1:5514/' }) as Doc[];
      expectValid(docs, ['v1.12']);
      expect(docs.map((d) => d.kind)).toEqual([undefined, 'HostnameConfig', 'LinkAliasConfig', 'LinkConfig', 'ResolverConfig', 'KmsgLogConfig', 'TimeSyncConfig']);
      expect(docs[0]!.machine.install.grubUseUKICmdline).toBe(true);
      expect(docs.at(-1)).toEqual({ apiVersion: 'v1alpha1', kind: 'TimeSyncConfig', ntp: { servers: ['10.77.0.1'] } });
    }
  });

  it.skipIf(noSchema)('v1.12 configs use grubUseUKICmdline, which the v1.11 schema does not know', () => {
    const cluster = { ...inv.cluster, talosVersion: 'v1.12.0', patches: { all: [], controlplane: [], worker: [] } };
    const doc = render(inv.nodes[0]!, cluster);
    expect(validators['v1.11']!(parse(machineConfigYaml([doc])))).toBe(false);
    expect(validators['v1.11']!.errors).toContainEqual(expect.objectContaining({ instancePath: '/machine/install', params: { additionalProperty: 'grubUseUKICmdline' } }));
  });

  it.skipIf(noSchema)('v1.11 configs use fields the v1.12 schema has removed, so they are checked against their own version', () => {
    const data = parse(machineConfigYaml([render(inv.nodes[0]!)]));
    expect(validators['v1.11']!(data)).toBe(true);
    expect(validators['v1.12']!(data)).toBe(false);
  });

  it.skipIf(noSchema)('the schema rejects what it should (the validator is not vacuous)', () => {
    const doc = render(inv.nodes[0]!);
    const withPersist = { ...doc, persist: true };
    expect(validators['v1.11']!(parse(machineConfigYaml([withPersist])))).toBe(false);
    expect(validators['v1.11']!({ ...doc, machine: { ...doc.machine, type: 'boss' } })).toBe(false);
  });

  describe('matrix', () => {
    // v1.13 has no published schema here; its configs are checked against v1.12's, whose generation it shares.
    const versions = ['v1.11.5', 'v1.12.0', 'v1.13.0'];
    const cnis = ['flannel', 'none'] as const;
    const roles = ['controlplane', 'worker'] as const;
    const ips = [undefined, '10.77.0.50'];
    for (const talosVersion of versions) for (const cni of cnis) for (const role of roles) for (const ip of ips) {
      it.skipIf(noSchema)(`${talosVersion} ${cni} ${role} ${ip ? 'static' : 'dhcp'}`, () => {
        const v112 = talosVersion !== 'v1.11.5';
        const cluster = { ...inv.cluster, talosVersion, cni, kubernetesVersion: v112 ? undefined : inv.cluster.kubernetesVersion, patches: { all: [], controlplane: [], worker: [] } };
        const node: NodeSpec = { name: 'n-1', mac: '52:54:00:aa:bb:cc', role, ip, installDisk: '/dev/vda', bootstrap: false, configMode: 'pull', patches: [] };
        const docs = renderAll(node, cluster);
        expectValid(docs, v112 ? ['v1.12'] : ['v1.11']);
        const doc = docs[0]!;
        expect(doc.machine.type).toBe(role);
        expect(doc.machine.kubelet.image).toBe(`ghcr.io/siderolabs/kubelet:v${{ 'v1.11.5': '1.34.1', 'v1.12.0': '1.35.0', 'v1.13.0': '1.36.0' }[talosVersion]}`);
        expect(doc.machine.install.grubUseUKICmdline).toBe(v112 ? true : undefined);
        expect(doc.machine.features.kubePrism).toEqual({ enabled: true, port: 7445 });
        expect(doc.cluster.network.cni).toEqual(cni === 'none' ? { name: 'none' } : undefined);
        if (v112) {
          expect(docs.map((d) => d.kind)).toEqual(ip ? [undefined, 'HostnameConfig', 'LinkAliasConfig', 'LinkConfig', 'ResolverConfig'] : [undefined, 'HostnameConfig']);
          expect(docs[1]!.hostname).toBe('n-1');
          if (ip) expect(docs[3]!.addresses).toEqual([{ address: `${ip}/24` }]);
        } else {
          expect(doc.machine.network.hostname).toBe('n-1');
          expect(doc.machine.network.interfaces?.[0]?.addresses).toEqual(ip ? [`${ip}/24`] : undefined);
        }
      });
    }
    it.skipIf(noSchema)('with JSON patches and merge patches at every level', () => {
      const cluster = {
        ...inv.cluster,
        cni: 'none' as const,
        patches: {
          all: [{ machine: { sysctls: { 'net.core.somaxconn': '65535' } } }],
          controlplane: [[{ op: 'add', path: '/cluster/inlineManifests/-', value: { name: 'cilium', contents: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cilium\n' } }]],
          worker: [],
        },
      };
      const node = { ...inv.nodes[0]!, patches: [[{ op: 'replace', path: '/machine/install/wipe', value: true }], { machine: { certSANs: ['cp-1.example'] } }] };
      const doc = render(node, cluster);
      expectValid([doc], ['v1.11']);
      expect(doc.cluster.inlineManifests).toEqual([expect.objectContaining({ name: 'cilium' })]);
      expect(doc.machine.install.wipe).toBe(true);
      expect(doc.machine.sysctls).toEqual({ 'net.core.somaxconn': '65535' });
      expect(doc.machine.certSANs).toEqual(['cp-1.example']);
    });
  });

  it('control plane: talosctl gen config shape, all CA keys, KubePrism, installer, hostname, static address', () => {
    const doc = render(inv.nodes[0]!);
    expect(Object.keys(doc)).toEqual(['version', 'debug', 'machine', 'cluster']);
    expect(doc).not.toHaveProperty('persist');
    expect(doc.machine.type).toBe('controlplane');
    expect(doc.machine.token).toBe(secrets.trustdinfo.token);
    expect(doc.machine.ca).toEqual(secrets.certs.os);
    expect(doc.machine.features.kubePrism).toEqual({ enabled: true, port: 7445 });
    // The settings' serial console (ttyS0 by default) beside tty0, for the host-built GRUB command line of v1.11.
    expect(doc.machine.install).toEqual({ disk: '/dev/sda', extraKernelArgs: ['console=tty0', 'console=ttyS0'], image: 'factory.talos.dev/metal-installer/2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8:v1.11.5', wipe: false });
    expect(doc.machine.kubelet.image).toBe('ghcr.io/siderolabs/kubelet:v1.34.1');
    expect(doc.machine.network).toEqual({
      hostname: 'cp-1',
      interfaces: [{ deviceSelector: { permanentAddr: '52:54:00:12:34:01' }, addresses: ['10.77.0.11/24'], routes: [{ network: '0.0.0.0/0', gateway: '10.77.0.1' }], dhcp: false }],
      nameservers: ['10.77.0.1'],
    });
    expect(doc.cluster.controlPlane.endpoint).toBe('https://10.77.0.10:6443');
    expect(doc.cluster.clusterName).toBe('rack1');
    expect(doc.cluster.token).toBe(secrets.secrets.bootstraptoken);
    expect(doc.cluster.ca).toEqual(secrets.certs.k8s);
    expect(doc.cluster.aggregatorCA).toEqual(secrets.certs.k8saggregator);
    expect(doc.cluster.serviceAccount).toEqual(secrets.certs.k8sserviceaccount);
    expect(doc.cluster.etcd.ca).toEqual(secrets.certs.etcd);
    expect(doc.cluster.apiServer.certSANs).toEqual(['10.77.0.10']);
    expect(doc.cluster.network.cni).toBeUndefined(); // flannel: the default, left out as talosctl does
    // patches: cluster-wide, then role
    expect(doc.machine.time).toEqual({ servers: ['10.77.0.1'] });
    expect(doc.cluster.allowSchedulingOnControlPlanes).toBe(false);
  });

  describe('what keeps the console and kernel log after the install', () => {
    const bare = { all: [], controlplane: [], worker: [] };
    it('v1.11: the PXE consoles in machine.install.extraKernelArgs, by the schematic\'s rules; none when only tty0', () => {
      const noSerial = { ...settings, talos: { consoles: [], extraKernelArgs: [] } };
      expect(renderAll(inv.nodes[0]!, { ...inv.cluster, patches: bare }, noSerial)[0]!.machine.install).not.toHaveProperty('extraKernelArgs');
      const schematic = { extensions: [], extraKernelArgs: ['console=ttyS1,115200'] };
      expect(render(inv.nodes[0]!, { ...inv.cluster, schematic, patches: bare }).machine.install.extraKernelArgs).toEqual(['console=ttyS1,115200']);
    });

    it('v1.12 and later: grubUseUKICmdline true as talosctl writes it, no extraKernelArgs (the schema refuses them), no endpoint SAN', () => {
      for (const talosVersion of ['v1.12.0', 'v1.13.0']) {
        const doc = render(inv.nodes[0]!, { ...inv.cluster, talosVersion, patches: bare });
        expect(doc.machine.install).toEqual({ disk: '/dev/sda', image: expect.stringContaining(`:${talosVersion}`), wipe: false, grubUseUKICmdline: true });
        expect(doc.cluster.apiServer).not.toHaveProperty('certSANs');
        expect(Object.keys(doc.cluster.apiServer)).toEqual(['image', 'admissionControl', 'auditPolicy']);
      }
    });

    it('a KmsgLogConfig document for the console receiver, on every version; none without one', () => {
      for (const talosVersion of ['v1.11.5', 'v1.12.0']) {
        const cluster = { ...inv.cluster, talosVersion, patches: bare };
        const docs = renderMachineConfig({ cluster, node: inv.nodes[3]!, secrets, settings, kernelLogUrl: 'udp://10.77.0.1:5514/' }) as Doc[];
        expect(docs.at(-1)).toEqual({ apiVersion: 'v1alpha1', kind: 'KmsgLogConfig', name: 'rackboot-console', url: 'udp://10.77.0.1:5514/' });
        if (!noSchema) expectValid(docs, [talosVersion.slice(0, 5)]);
        expect(renderAll(inv.nodes[3]!, cluster).some((d) => d.kind === 'KmsgLogConfig')).toBe(false);
      }
    });
  });

  it('worker: CA certificates without keys, no control-plane secrets, its own patch', () => {
    const doc = render(inv.nodes[3]!);
    expect(doc.machine.type).toBe('worker');
    expect(doc.machine.ca).toEqual({ crt: secrets.certs.os.crt, key: '' });
    expect(doc.cluster.ca).toEqual({ crt: secrets.certs.k8s.crt, key: '' });
    for (const k of ['aggregatorCA', 'serviceAccount', 'etcd', 'secretboxEncryptionSecret', 'apiServer', 'allowSchedulingOnControlPlanes']) expect(doc.cluster).not.toHaveProperty(k);
    const text = machineConfigYaml([doc]);
    for (const key of [secrets.certs.os.key, secrets.certs.k8s.key, secrets.certs.etcd.key, secrets.certs.k8saggregator.key, secrets.certs.k8sserviceaccount.key]) {
      expect(text).not.toContain(key);
    }
    expect(doc.machine.install.disk).toBe('/dev/nvme0n1');
    expect(doc.machine.nodeLabels).toEqual({ 'rack.example/slot': 'u11' });
    expect(doc.machine.time).toEqual({ servers: ['10.77.0.1'] });
  });

  it('YAML is written the talosctl way: 4-space indent, list items under their key', () => {
    const text = machineConfigYaml([render(inv.nodes[0]!)]);
    expect(text.startsWith('version: v1alpha1\ndebug: false\nmachine:\n    type: controlplane\n')).toBe(true);
    expect(text).toContain('\n        podSubnets:\n            - 10.244.0.0/16\n');
  });

  it('a bad patch is named, with the node it was for', () => {
    const cluster = { ...inv.cluster, patches: { ...inv.cluster.patches, worker: [[{ op: 'remove', path: '/machine/nope' }]] } };
    expect(() => render(inv.nodes[4]!, cluster)).toThrow(PatchError);
    expect(() => render(inv.nodes[4]!, cluster)).toThrow('patch cluster.patches.worker[0] failed for node worker-2: operation 0: path /machine/nope does not exist');
    const node = { ...inv.nodes[0]!, patches: [[{ op: 'test', path: '/machine/type', value: 'worker' }]] };
    expect(() => render(node)).toThrow('patch nodes[cp-1].patches[0] failed for node cp-1: operation 0: test failed at /machine/type');
  });
});
