import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { schematicId } from '../../src/factory/schematic.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-doctor-uki-');
interface Finding { level: string; check: string; detail: string; fix?: string }

describe('rackboot doctor: the UKI of Secure Boot nodes', () => {
  it('fails while a secureBoot node\'s UKI is not cached, with the fetch to run; ok once it is', () => {
    const dir = tmp();
    // The example inventory with one worker on Secure Boot.
    const inv = readFileSync('inventory/cluster.yaml', 'utf8').replace(/(  - name: worker-1\n)/, '$1    secureBoot: true\n');
    expect(inv).toContain('secureBoot: true');
    writeFileSync(join(dir, 'cluster.yaml'), inv);
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `dhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\ninventory: ${dir}/cluster.yaml\nassetsDir: ${dir}/assets\n`);
    const find = () => (JSON.parse(runCli(['doctor', '--json', '--config', cfg]).stdout || '[]') as Finding[]).find((f) => f.check === 'UKI metal-amd64-secureboot-uki.efi');
    expect(find()).toMatchObject({ level: 'fail', fix: expect.stringContaining('rackboot assets fetch --version v1.11.5 --arch amd64') });
    const assets = join(dir, 'assets', schematicId({ extensions: ['siderolabs/intel-ucode'], extraKernelArgs: [] }), 'v1.11.5');
    mkdirSync(assets, { recursive: true });
    writeFileSync(join(assets, 'metal-amd64-secureboot-uki.efi'), 'u');
    expect(find()).toMatchObject({ level: 'ok' });
  });
});
