// rackboot init, config, talosconfig and schematic, run as the CLI runs them.
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { init } from '../../src/cli/init.js';
import { config } from '../../src/cli/config.js';
import { talosconfig } from '../../src/cli/talosconfig.js';
import { schematic } from '../../src/cli/schematic.js';
import { runCommand, scratchSite } from './run-command.js';

describe('talos artifact commands', () => {
  let site: ReturnType<typeof scratchSite>;
  beforeAll(() => { site = scratchSite(); });
  afterAll(() => rmSync(site.dir, { recursive: true, force: true }));

  it('config and talosconfig before init say to run init', async () => {
    const r = await runCommand(config, ['cp-1', '--config', site.config]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no secrets bundle at .*secrets\.yaml; run rackboot init/);
  });

  it('init creates the bundle once; a re-run keeps it; --import over it fails', async () => {
    const first = await runCommand(init, ['--config', site.config]);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/created .*secrets\.yaml \(mode 0600\)/);
    const file = join(site.dataDir, 'secrets.yaml');
    const before = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await runCommand(init, ['--config', site.config]);
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/already exists; it is never overwritten/);
    const other = join(site.dir, 'other.yaml');
    writeFileSync(other, before);
    expect((await runCommand(init, ['--config', site.config, '--import', other])).code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(before);
  }, 60_000);

  it('config NODE prints the node config; --out writes it 0600', async () => {
    const r = await runCommand(config, ['worker-1', '--config', site.config]);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS());
    expect(docs[0].machine.type).toBe('worker');
    expect(docs[0].machine.network.hostname).toBe('worker-1');
    const out = join(site.dir, 'cp-1.yaml');
    const w = await runCommand(config, ['cp-1', '--config', site.config, '--out', out]);
    expect(w.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(parseAllDocuments(readFileSync(out, 'utf8'))[0]!.toJS().machine.type).toBe('controlplane');
  });

  it('config NODE prints the document the node gets: the KmsgLogConfig names the host nodes reach us at', async () => {
    // The same site (its secrets from the init above), with a public URL and console port of its own.
    const withUrl = join(site.dir, 'public-url.yaml');
    writeFileSync(withUrl, `${readFileSync(site.config, 'utf8')}http:\n  publicUrl: http://10.9.0.1:8080\nconsole:\n  port: 5600\n`);
    const r = await runCommand(config, ['worker-1', '--config', withUrl]);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS());
    expect(docs.find((d) => d.kind === 'KmsgLogConfig')).toMatchObject({ url: 'udp://10.9.0.1:5600/' });
  });

  it('config with an unknown node or no node fails plainly', async () => {
    const r = await runCommand(config, ['nope', '--config', site.config]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no node "nope"');
    expect((await runCommand(config, ['--config', site.config])).code).toBe(2);
  });

  it('talosconfig writes DATA_DIR/talosconfig 0600 by default, or prints with --out -', async () => {
    const r = await runCommand(talosconfig, ['--config', site.config]);
    expect(r.code).toBe(0);
    const file = join(site.dataDir, 'talosconfig');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(file, 'utf8')).context).toBe('rack1');
    const p = await runCommand(talosconfig, ['--config', site.config, '--out', '-']);
    expect(parse(p.out).contexts.rack1.endpoints).toEqual(['10.77.0.11', '10.77.0.12', '10.77.0.13']);
  });

  it('schematic: inventory by default, flags otherwise, --json', async () => {
    const inv = await runCommand(schematic, ['--config', site.config]);
    expect(inv.out).toBe('customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/intel-ucode\n\nID: 2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8');
    const flags = await runCommand(schematic, ['--kernel-arg', 'noapic', '--kernel-arg', 'nolapic', '--json']);
    expect(JSON.parse(flags.out)).toEqual({ id: '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c', yaml: 'customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n' });
    const ext = await runCommand(schematic, ['--extension', 'siderolabs/intel-ucode', '--json']);
    expect(JSON.parse(ext.out).id).toBe('2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8');
    expect((await runCommand(schematic, ['--kernel-arg', 'a b'])).code).toBe(2);
  });
});
