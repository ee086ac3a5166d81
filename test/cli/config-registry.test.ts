import { afterEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { config } from '../../src/cli/config.js';
import { initSecrets } from '../../src/talos/secrets.js';
import { loadSettings, SettingsError } from '../../src/settings/settings.js';
import { runCommand, scratchSite } from './run-command.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('registry settings in rackboot config', () => {
  it('registry.mirror + offline: the printed config mirrors every registry to the appliance\'s boot URL, without fallback', async () => {
    const site = scratchSite('http:\n  publicUrl: http://10.77.0.1:8080\nregistry:\n  mirror: true\n  offline: true\n');
    dir = site.dir;
    await initSecrets(site.dataDir);
    const r = await runCommand(config, ['--config', site.config, 'cp-1']);
    expect(r.code).toBe(0);
    const doc = parseAllDocuments(r.out)[0]!.toJS() as { machine: { registries: { mirrors: Record<string, unknown> } } };
    expect(doc.machine.registries.mirrors['factory.talos.dev']).toEqual({ endpoints: ['http://10.77.0.1:8080'], skipFallback: true });
    expect(doc.machine.registries.mirrors['registry.k8s.io']).toEqual({ endpoints: ['http://10.77.0.1:8080'], skipFallback: true });
  }, 60_000);

  it('refuses registry.offline without registry.mirror', () => {
    const site = scratchSite('registry:\n  offline: true\n');
    dir = site.dir;
    expect(() => loadSettings({ config: site.config })).toThrow(SettingsError);
  });
});

describe('registry settings on reload', () => {
  it('registry.mirror and registry.offline are live: a reload applies them, no restart', async () => {
    const { diffSettings } = await import('../../src/settings/live.js');
    const site = scratchSite();
    dir = site.dir;
    const before = loadSettings({ config: site.config });
    const after = { ...before, registry: { mirror: true, offline: true } };
    expect(diffSettings(before, after)).toEqual({ live: ['registry.mirror', 'registry.offline'], needRestart: [] });
  });
});
