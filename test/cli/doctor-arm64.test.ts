import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-doctor-arm64-');
interface Finding { level: string; check: string; detail: string; fix?: string }

describe('rackboot doctor: arm64 nodes on iPXE need an arm64 iPXE build (Debian ships none)', () => {
  it('fails for an arm64 node on the default httpBoot: ipxe with no ipxe-arm64.efi, naming httpBoot: uki; not for an arm64 uki node; ok once the binary is there', () => {
    const dir = tmp();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, `dhcp:\n  mode: off\ntftp:\n  enabled: false\n  root: ${dir}/tftp\nhttp:\n  listen: 127.0.0.1:0\ninventory: ${dir}/cluster.yaml\nassetsDir: ${dir}/assets\n`);
    const withWorker = (lines: string) => writeFileSync(join(dir, 'cluster.yaml'), readFileSync('inventory/cluster.yaml', 'utf8').replace(/(  - name: worker-1\n)/, `$1${lines}`));
    const find = () => (JSON.parse(runCli(['doctor', '--json', '--config', cfg]).stdout || '[]') as Finding[]).find((f) => f.check === 'arm64 iPXE ipxe-arm64.efi');

    withWorker('    arch: arm64\n');
    expect(find()).toMatchObject({ level: 'fail', detail: expect.stringContaining('worker-1'), fix: expect.stringContaining('httpBoot: uki') });

    withWorker('    arch: arm64\n    httpBoot: uki\n');
    expect(readFileSync(join(dir, 'cluster.yaml'), 'utf8')).toContain('httpBoot: uki');
    expect(find()).toBeUndefined();

    withWorker('    arch: arm64\n');
    mkdirSync(join(dir, 'tftp'), { recursive: true });
    writeFileSync(join(dir, 'tftp', 'ipxe-arm64.efi'), 'x');
    expect(find()).toMatchObject({ level: 'ok' });
  });
});
