// CLI conventions (issue 18): common options before the command, and `lab
// status` finding a lab started with --dir without being told again.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hoistGlobalOptions, main } from '../../src/cli.js';
import { diagnose } from '../../src/cli/doctor.js';
import { loadSettings } from '../../src/settings/settings.js';
import { forgetLabDir, labDirRecordFile, recordedLabDir, recordLabDir } from '../../src/lab/dir-record.js';
import { scratchSite } from './run-command.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('common options before the command', () => {
  it('rackboot --config F inventory check uses F, the same as after the command', async () => {
    const site = scratchSite();
    dirs.push(site.dir);
    const bad = join(site.dir, 'bad.yaml');
    writeFileSync(bad, 'cluster:\n  name: c1\n  controlPlaneEndpoint: https://10.0.0.1:6443\n  talosVersion: v1.11.5\nnodes:\n  - name: a\n    mac: zz\n    role: worker\n');
    writeFileSync(site.config, `dataDir: ${site.dataDir}\ninventory: ${bad}\n`);
    const before = await run(['--config', site.config, 'inventory', 'check']);
    const after = await run(['inventory', 'check', '--config', site.config]);
    expect(before.code).toBe(1);
    expect(before.err).toContain(`${bad}:7:10: node a: mac: "zz" is not a valid MAC address`);
    expect(before).toEqual(after);
    expect((await run([`--config=${site.config}`, '--log-level', 'warn', 'inventory', 'check'])).err).toEqual(before.err);
  });

  it('moves only the common options, in order, behind the command words and their arguments', () => {
    expect(hoistGlobalOptions(['--data-dir', 'D', '--inventory=I', 'config', 'cp-1'])).toEqual(['config', 'cp-1', '--data-dir', 'D', '--inventory=I']);
    expect(hoistGlobalOptions(['--help'])).toEqual(['--help']);
    expect(hoistGlobalOptions(['--nodes', '3', 'lab', 'up'])).toEqual(['--nodes', '3', 'lab', 'up']);
  });

  it('a common option without its value before the command is bad usage', async () => {
    const r = await run(['--config']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--config needs a value');
  });
});

describe('the lab\'s directory is remembered', () => {
  it('lab status finds a lab whose lab up was given --dir, with no --dir of its own', async () => {
    const run_ = mkdtempSync(join(tmpdir(), 'rb-run-'));
    const lab = mkdtempSync(join(tmpdir(), 'rb-lab-'));
    dirs.push(run_, lab);
    const saved = process.env.RACKBOOT_RUN_DIR;
    process.env.RACKBOOT_RUN_DIR = run_;
    try {
      // What lab up leaves behind: its record, and lab.json in its dir (no namespace: the API does not answer).
      recordLabDir(lab);
      mkdirSync(join(lab, 'data'));
      writeFileSync(join(lab, 'lab.json'), JSON.stringify({
        dir: lab, ns: `rbnone${process.pid}`, bridge: 'none', url: 'http://10.78.0.1:8080', adminToken: 'x', rackbootPid: 0, takeoverPid: 0,
        adminUrl: 'https://127.0.0.1:8443', adminCert: join(lab, 'cert.pem'), vms: false, machines: [],
        standin: { kernelPackage: 'none' }, startedAt: '2026-12-02T14:00:00Z',
      }));
      const r = await run(['lab', 'status']);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain('appliance http://10.78.0.1:8080 in namespace rbnone');
      expect(labDirRecordFile()).toBe(join(run_, 'lab-dir'));
      // Another lab's down does not forget this one; its own does.
      forgetLabDir('/elsewhere');
      expect(recordedLabDir()).toBe(lab);
      forgetLabDir(lab);
      expect(recordedLabDir()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.RACKBOOT_RUN_DIR;
      else process.env.RACKBOOT_RUN_DIR = saved;
    }
  });
});

describe('doctor checks the paths actually configured', () => {
  it('fails a dataDir or assetsDir it could not write, naming the configured path; passes ones it can create', async () => {
    const site = scratchSite();
    dirs.push(site.dir);
    const file = join(site.dir, 'not-a-dir');
    writeFileSync(file, '');
    writeFileSync(site.config, `dataDir: ${file}/data\nassetsDir: ${site.dir}/new/assets\ndhcp:\n  mode: off\ntftp:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n`);
    const findings = await diagnose(loadSettings({ config: site.config }));
    expect(findings.find((f) => f.check === 'data directory')).toMatchObject({ level: 'fail', detail: `${file}/data: ${file} is not a directory`, fix: expect.stringContaining('dataDir') });
    expect(findings.find((f) => f.check === 'asset cache')).toMatchObject({ level: 'ok', detail: `${site.dir}/new/assets (created on first use)` });
  });
});
