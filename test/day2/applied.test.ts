import { afterEach, describe, expect, it } from 'vitest';
import { appliedConfigFor, configFacts, parseInstallerImage, recordApplied, recordRejected, recordTalosVersion } from '../../src/day2/applied.js';
import { REDACTED, configSha256 } from '../../src/day2/redact.js';
import { Store } from '../../src/store/store.js';

const SCHEMATIC = 'a'.repeat(64);
const CONFIG = `version: v1alpha1
machine:
  type: worker
  token: abcdef.0123456789abcdef
  ca: {crt: Q1JU, key: S0VZc2VjcmV0}
  install: {disk: /dev/sda, image: factory.talos.dev/metal-installer/${SCHEMATIC}:v1.12.0}
  kubelet: {image: ghcr.io/siderolabs/kubelet:v1.35.0}
cluster:
  secretboxEncryptionSecret: c2VjcmV0Ym94
`;

let store: Store;
afterEach(() => store?.close());

describe('applied config records', () => {
  it('keep the hash, a redacted copy, the installer image and Kubernetes version; never the clear secrets', () => {
    store = new Store(':memory:');
    expect(appliedConfigFor(store, 'w1')).toBeUndefined();
    recordApplied(store, 'w1', Buffer.from(CONFIG), { via: 'push', mode: 'REBOOT', modeDetails: 'Applied configuration with a reboot', at: 5 });
    const a = appliedConfigFor(store, 'w1')!;
    expect(a).toMatchObject({ sha256: configSha256(CONFIG), via: 'push', mode: 'REBOOT', appliedAt: 5, kubernetesVersion: '1.35.0',
      installerImage: `factory.talos.dev/metal-installer/${SCHEMATIC}:v1.12.0`, rejected: null, talosVersion: null });
    expect(a.redacted).toContain(`token: ${REDACTED}`);
    const dump = JSON.stringify(store.db.prepare('SELECT * FROM node_config').all());
    for (const secret of ['0123456789abcdef', 'S0VZc2VjcmV0', 'c2VjcmV0Ym94']) expect(dump).not.toContain(secret);
  });

  it('a rejection is kept with its hash until a config is applied', () => {
    store = new Store(':memory:');
    recordTalosVersion(store, 'w1', 'v1.12.0', 7);
    recordRejected(store, 'w1', 'f'.repeat(64), 'bad field', 9);
    expect(appliedConfigFor(store, 'w1')).toMatchObject({ talosVersion: 'v1.12.0', versionSeenAt: 7, rejected: { sha256: 'f'.repeat(64), reason: 'bad field', at: 9 } });
    recordApplied(store, 'w1', CONFIG, { via: 'apply' });
    expect(appliedConfigFor(store, 'w1')).toMatchObject({ rejected: null, talosVersion: 'v1.12.0' });
  });

  it('an unparsable config keeps its hash and no copy, without throwing', () => {
    store = new Store(':memory:');
    recordApplied(store, 'w1', 'a: [\n', { via: 'pull' });
    expect(appliedConfigFor(store, 'w1')).toMatchObject({ sha256: configSha256('a: [\n'), redacted: null });
  });
});

it('reads the schematic and version from an installer reference', () => {
  expect(parseInstallerImage(`factory.talos.dev/metal-installer/${SCHEMATIC}:v1.12.0`)).toEqual({ schematic: SCHEMATIC, version: 'v1.12.0' });
  expect(parseInstallerImage(`mirror.local:5000/installer/${SCHEMATIC}:v1.13.1`)).toEqual({ schematic: SCHEMATIC, version: 'v1.13.1' });
  expect(parseInstallerImage('ghcr.io/siderolabs/installer:v1.12.0')).toBeUndefined();
  expect(configFacts('version: v1alpha1\nmachine: {}\n')).toEqual({ installerImage: undefined, kubernetesVersion: undefined });
});
