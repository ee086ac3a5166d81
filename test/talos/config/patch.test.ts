import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { applyPatches, jsonPatch } from '../../../src/talos/config/patch.js';
import type { ConfigDoc } from '../../../src/talos/config/strategic.js';

describe('RFC 6902 JSON patch (Appendix A examples)', () => {
  it('A.1 add an object member', () => expect(jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ baz: 'qux', foo: 'bar' }));
  it('A.2 add an array element', () => expect(jsonPatch({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] }));
  it('A.3 remove an object member', () => expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' }));
  it('A.4 remove an array element', () => expect(jsonPatch({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] }));
  it('A.5 replace a value', () => expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({ baz: 'boo', foo: 'bar' }));
  it('A.6 move a value', () => expect(jsonPatch({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }]))
    .toEqual({ foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } }));
  it('A.7 move an array element', () => expect(jsonPatch({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] }));
  it('A.8 test success', () => expect(jsonPatch({ baz: 'qux', foo: ['a', 2, 'c'] }, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }])).toEqual({ baz: 'qux', foo: ['a', 2, 'c'] }));
  it('A.9 test error', () => expect(() => jsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }])).toThrow('operation 0: test failed at /baz'));
  it('A.10 add a nested member object', () => expect(jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }])).toEqual({ foo: 'bar', child: { grandchild: {} } }));
  it('A.12 add to a nonexistent target', () => expect(() => jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }])).toThrow('path /baz/bat does not exist'));
  it('A.14 ~ escape ordering', () => expect(jsonPatch({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }])).toEqual({ '/': 9, '~1': 10 }));
  it('A.16 add an array value', () => expect(jsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }])).toEqual({ foo: ['bar', ['abc', 'def']] }));
  it('copy, and a failing operation leaves the input untouched', () => {
    const doc = { a: { b: 1 } };
    expect(jsonPatch(doc, [{ op: 'copy', from: '/a', path: '/c' }])).toEqual({ a: { b: 1 }, c: { b: 1 } });
    expect(() => jsonPatch(doc, [{ op: 'remove', path: '/a/b' }, { op: 'remove', path: '/nope' }])).toThrow('operation 1');
    expect(doc).toEqual({ a: { b: 1 } });
  });
  it('rejects unknown ops and malformed pointers', () => {
    expect(() => jsonPatch({}, [{ op: 'merge', path: '/a' }])).toThrow('unknown op "merge"');
    expect(() => jsonPatch({}, [{ op: 'add', path: 'a', value: 1 }])).toThrow('is not a JSON pointer');
    expect(() => jsonPatch({ a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }])).toThrow('out of range');
  });
});

describe('applyPatches', () => {
  it('applies merge and JSON patches in order and names the failing one with the node', () => {
    const out = applyPatches([{ m: { x: 1 } }], [
      { source: 'cluster.patches.all[0]', patch: { m: { y: 2 } } },
      { source: 'nodes[a].patches[0]', patch: [{ op: 'replace', path: '/m/x', value: 3 }] },
    ], 'a');
    expect(out).toEqual([{ m: { x: 3, y: 2 } }]);
    expect(() => applyPatches([{}], [{ source: 'cluster.patches.worker[2]', patch: [{ op: 'remove', path: '/m' }] }], 'w-1'))
      .toThrow('patch cluster.patches.worker[2] failed for node w-1: operation 0: path /m does not exist');
  });

  it('refuses a JSON patch on a multi-document config, as talosctl does (configpatcher/json6902.go)', () => {
    expect(() => applyPatches([{ machine: {} }, { apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: 'a' }], [{ source: 'p', patch: [{ op: 'add', path: '/machine/x', value: 1 }] }], 'a'))
      .toThrow(/JSON6902 patches are not supported for multi-document machine configuration/);
  });
});

// The examples of upstream's "Configuration Patches" guide (siderolabs/talos
// website/content/v1.11/talos-guides/configuration/patching.md, v1.11.5), pasted as
// patch text the way an operator copies them: base config, patch, the documented result.
const strategic = (base: string, patch: string): ConfigDoc[] => applyPatches([parse(base) as ConfigDoc], [{ source: 'doc', patch }], 'n');

describe('strategic merge patches: the examples of Talos\'s patching guide', () => {
  it('a patch merges with its section', () => {
    const base = 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses:\n          - 10.0.0.2/24\n';
    expect(strategic(base, 'machine:\n  network:\n    hostname: worker1\n')).toEqual([parse(`machine:
  network:
    interfaces:
      - interface: eth0
        addresses:
          - 10.0.0.2/24
    hostname: worker1
`)]);
  });

  it('$patch: delete removes the interface it selects', () => {
    const base = 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses:\n          - 10.0.0.2/24\n    hostname: worker1\n';
    const patch = 'machine:\n  network:\n    interfaces:\n    - interface: eth0\n      $patch: delete\n    hostname: worker1\n';
    expect(strategic(base, patch)).toEqual([{ machine: { network: { interfaces: [], hostname: 'worker1' } } }]);
  });

  it('$patch: delete removes whole documents, but not the v1alpha1 one', () => {
    const docs: ConfigDoc[] = [{ machine: {} }, { apiVersion: 'v1alpha1', kind: 'SideroLinkConfig', apiUrl: 'https://x' }, { apiVersion: 'v1alpha1', kind: 'ExtensionServiceConfig', name: 'foo' }, { apiVersion: 'v1alpha1', kind: 'ExtensionServiceConfig', name: 'bar' }];
    const patch = 'apiVersion: v1alpha1\nkind: SideroLinkConfig\n$patch: delete\n---\napiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\n$patch: delete\n';
    expect(applyPatches(docs, [{ source: 'doc', patch }], 'n')).toEqual([{ machine: {} }, { apiVersion: 'v1alpha1', kind: 'ExtensionServiceConfig', name: 'bar' }]);
    expect(() => applyPatches(docs, [{ source: 'doc', patch: { $patch: 'delete' } }], 'n')).toThrow("can't delete the root of the legacy document");
  });

  it('machine network: interfaces merge by name, a new one is appended', () => {
    const base = 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: false\n        addresses:\n          - 192.168.10.3/24\n';
    const patch = 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 192.168.10.50\n      - interface: eth1\n        dhcp: true\n';
    expect(strategic(base, patch)).toEqual([parse(`machine:
  network:
    interfaces:
      - interface: eth0
        dhcp: false
        addresses:
          - 192.168.10.3/24
        vip:
          ip: 192.168.10.50
      - interface: eth1
        dhcp: true
`)]);
  });

  it('cluster network: pod and service subnets are replaced, not appended', () => {
    const base = 'cluster:\n  network:\n    dnsDomain: cluster.local\n    podSubnets:\n      - 10.244.0.0/16\n    serviceSubnets:\n      - 10.96.0.0/12\n';
    const patch = 'cluster:\n  network:\n    podSubnets:\n      - 192.168.0.0/16\n    serviceSubnets:\n      - 192.0.0.0/12\n    cni:\n      name: none\n';
    expect(strategic(base, patch)).toEqual([{ cluster: { network: { dnsDomain: 'cluster.local', podSubnets: ['192.168.0.0/16'], serviceSubnets: ['192.0.0.0/12'], cni: { name: 'none' } } } }]);
  });

  it('kubelet: a new section is added', () => {
    expect(strategic('machine:\n  kubelet: {}\n', 'machine:\n  kubelet:\n    nodeIP:\n      validSubnets:\n        - 192.168.10.0/24\n'))
      .toEqual([{ machine: { kubelet: { nodeIP: { validSubnets: ['192.168.10.0/24'] } } } }]);
  });

  it('admission control: the PodSecurity plugin merges by name and its exemption list is appended to', () => {
    const base = `cluster:
  apiServer:
    admissionControl:
      - name: PodSecurity
        configuration:
          apiVersion: pod-security.admission.config.k8s.io/v1alpha1
          defaults:
            audit: restricted
            enforce: baseline
          exemptions:
            namespaces:
              - kube-system
            runtimeClasses: []
            usernames: []
          kind: PodSecurityConfiguration
`;
    const patch = 'cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        configuration:\n          exemptions:\n            namespaces:\n              - rook-ceph\n';
    const out = strategic(base, patch)[0] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(out.cluster.apiServer.admissionControl).toHaveLength(1);
    expect(out.cluster.apiServer.admissionControl[0].configuration).toEqual({
      apiVersion: 'pod-security.admission.config.k8s.io/v1alpha1', defaults: { audit: 'restricted', enforce: 'baseline' },
      exemptions: { namespaces: ['kube-system', 'rook-ceph'], runtimeClasses: [], usernames: [] }, kind: 'PodSecurityConfiguration',
    });
  });

  it('the JSON patch form of the same examples gives the same result', () => {
    const base = 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        dhcp: false\n        addresses:\n          - 192.168.10.3/24\n';
    const patch = '- op: add\n  path: /machine/network/interfaces/0/vip\n  value:\n    ip: 192.168.10.50\n- op: add\n  path: /machine/network/interfaces/-\n  value:\n    interface: eth1\n    dhcp: true\n';
    expect(strategic(base, patch)).toEqual(strategic(base, 'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        vip:\n          ip: 192.168.10.50\n      - interface: eth1\n        dhcp: true\n'));
  });
});

describe('strategic merge patches: the rest of upstream\'s rules', () => {
  it('lists are appended; null changes nothing; scalars replace; auditPolicy is replaced whole', () => {
    const base = { machine: { certSANs: ['a'], kubelet: { extraArgs: { x: '1' } } }, cluster: { apiServer: { auditPolicy: { rules: [{ level: 'Metadata' }], kind: 'Policy' } } } };
    const out = applyPatches([base], [{ source: 'p', patch: { machine: { certSANs: ['b'], kubelet: null, type: 'worker' }, cluster: { apiServer: { auditPolicy: { rules: [{ level: 'None' }] } } } } }], 'n');
    expect(out).toEqual([{ machine: { certSANs: ['a', 'b'], kubelet: { extraArgs: { x: '1' } }, type: 'worker' }, cluster: { apiServer: { auditPolicy: { rules: [{ level: 'None' }] } } } }]);
    expect(base.machine.certSANs).toEqual(['a']);
  });

  it('typed documents merge with their namesake or are added; $patch: delete on a key removes it', () => {
    const docs: ConfigDoc[] = [{ machine: { time: { servers: ['a'] }, sysctls: { x: '1' } } }, { apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: 'n1' }];
    const patch = 'machine:\n  sysctls:\n    $patch: delete\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: n2\n---\napiVersion: v1alpha1\nkind: TimeSyncConfig\nntp:\n  servers: [10.0.0.1]\n';
    expect(applyPatches(docs, [{ source: 'p', patch }], 'n')).toEqual([
      { machine: { time: { servers: ['a'] } } },
      { apiVersion: 'v1alpha1', kind: 'HostnameConfig', hostname: 'n2' },
      { apiVersion: 'v1alpha1', kind: 'TimeSyncConfig', ntp: { servers: ['10.0.0.1'] } },
    ]);
  });

  it('refuses what talosctl refuses: deleting what is not there, an inner key below a list, a type clash', () => {
    const docs: ConfigDoc[] = [{ machine: { network: { interfaces: [{ interface: 'eth0', dhcp: true }] } } }];
    expect(() => applyPatches(docs, [{ source: 'p', patch: { machine: { nope: { $patch: 'delete' } } } }], 'n')).toThrow(/lookup failed/);
    expect(() => applyPatches(docs, [{ source: 'p', patch: { machine: { network: { interfaces: [{ interface: 'eth0', dhcp: { $patch: 'delete' } }] } } } }], 'n')).toThrow(/cannot delete an inner key/);
    expect(() => applyPatches(docs, [{ source: 'p', patch: { machine: { network: 'x' } } }], 'n')).toThrow(/cannot merge string into object at machine.network/);
  });
});
