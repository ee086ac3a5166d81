// The order and the one-field patches of a Kubernetes version roll (as talosctl upgrade-k8s, v1.12.0).
import { expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { k8sRollSteps, patchForStep } from '../../src/day2/k8s-roll-plan.js';

it('orders the steps as upgrade-k8s: each static pod across the control planes, then kube-proxy, then every kubelet', () => {
  const steps = k8sRollSteps([{ name: 'w1', role: 'worker' }, { name: 'cp1', role: 'controlplane' }, { name: 'cp2', role: 'controlplane' }], 'v1.35.1');
  expect(steps.map((s) => `${s.component}@${s.node}`)).toEqual([
    'kube-apiserver@cp1', 'kube-apiserver@cp2', 'kube-controller-manager@cp1', 'kube-controller-manager@cp2',
    'kube-scheduler@cp1', 'kube-scheduler@cp2', 'kube-proxy@cp1', 'kube-proxy@cp2', 'kubelet@cp1', 'kubelet@cp2', 'kubelet@w1',
  ]);
  expect(steps[0]!.image).toBe('registry.k8s.io/kube-apiserver:v1.35.1');
  expect(steps.at(-1)!.image).toBe('ghcr.io/siderolabs/kubelet:v1.35.1');
});

it('patches exactly one field of the v1alpha1 document, keeps the other documents, and skips a field already on the target', () => {
  const config = [
    'version: v1alpha1\nmachine:\n  type: controlplane\n  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.34.0\n    extraArgs:\n      rotate-server-certificates: "true"\ncluster:\n  apiServer:\n    image: registry.k8s.io/kube-apiserver:v1.34.0\n    certSANs: [10.0.0.1]\n  scheduler:\n    image: registry.k8s.io/kube-scheduler:v1.34.0\n',
    '\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: rackboot\nurl: udp://10.0.0.2:514\n',
  ].join('---');
  const [api] = k8sRollSteps([{ name: 'cp1', role: 'controlplane' }], '1.35.0');
  const out = patchForStep(config, api!);
  expect(out.changed).toBe(true);
  const docs = parseAllDocuments(out.config).map((d) => d.toJS());
  const before = parseAllDocuments(config).map((d) => d.toJS());
  expect(docs[0].cluster.apiServer).toEqual({ image: 'registry.k8s.io/kube-apiserver:v1.35.0', certSANs: ['10.0.0.1'] });
  // Nothing else moved: the kubelet and scheduler stay on the old version until their own steps.
  expect({ ...docs[0], cluster: { ...docs[0].cluster, apiServer: before[0].cluster.apiServer } }).toEqual(before[0]);
  expect(docs[1]).toEqual(before[1]);
  expect(patchForStep(out.config, api!)).toEqual({ config: out.config, changed: false });
  // A field the config does not name yet is added (upstream sets it on an empty section).
  const proxy = k8sRollSteps([{ name: 'cp1', role: 'controlplane' }], '1.35.0').find((s) => s.component === 'kube-proxy')!;
  expect(parseAllDocuments(patchForStep(config, proxy).config)[0]!.toJS().cluster.proxy).toEqual({ image: 'registry.k8s.io/kube-proxy:v1.35.0' });
  expect(() => patchForStep('kind: KmsgLogConfig\n', proxy)).toThrow(/no v1alpha1 document/);
});

it('finds the documents by YAML, not by `---` lines, and leaves every byte but the one value as it was', () => {
  // A `---` marker carrying a comment, a block scalar holding an indented `---`
  // (a file's content), a flow map and a quoted image: only the image's text changes.
  const v1 = [
    'version: v1alpha1 # the node config',
    'machine:',
    '  files:',
    '    - path: /var/etc/split.yaml',
    '      op: create',
    '      content: |',
    '        a: 1',
    '        ---',
    '        b: 2',
    '  kubelet:',
    '    image: "ghcr.io/siderolabs/kubelet:v1.34.0"',
    '    extraArgs: {rotate-server-certificates: "true"}',
    'cluster:',
    '  apiServer:',
    '    image: registry.k8s.io/kube-apiserver:v1.34.0   # pinned by rackboot',
    '',
  ].join('\n');
  const config = `--- # first: a kernel log sink\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: rackboot\nurl: udp://10.0.0.2:514\n--- # second: the machine config\n${v1}...\n`;
  const steps = k8sRollSteps([{ name: 'cp1', role: 'controlplane' }], '1.35.0');
  const api = patchForStep(config, steps.find((s) => s.component === 'kube-apiserver')!);
  expect(api.changed).toBe(true);
  expect(api.config).toBe(config.replace('kube-apiserver:v1.34.0', 'kube-apiserver:v1.35.0'));
  const kubelet = patchForStep(api.config, steps.find((s) => s.component === 'kubelet')!);
  expect(kubelet.config).toBe(api.config.replace('"ghcr.io/siderolabs/kubelet:v1.34.0"', '"ghcr.io/siderolabs/kubelet:v1.35.0"'));
  const docs = parseAllDocuments(kubelet.config).map((d) => d.toJS());
  expect(docs[1].machine.files[0].content).toBe('a: 1\n---\nb: 2\n');
  // A field not there yet: that one document is written again, the other kept to the byte.
  const proxy = patchForStep(config, steps.find((s) => s.component === 'kube-proxy')!);
  expect(proxy.config.startsWith(config.slice(0, config.indexOf('--- # second')))).toBe(true);
  const before = parseAllDocuments(config).map((d) => d.toJS());
  const after = parseAllDocuments(proxy.config).map((d) => d.toJS());
  expect(after[1].cluster.proxy).toEqual({ image: 'registry.k8s.io/kube-proxy:v1.35.0' });
  expect(after[1].machine).toEqual(before[1].machine);
  expect(after[0]).toEqual(before[0]);
});
