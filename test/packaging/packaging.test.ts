import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../src/settings/settings.js';
import { environmentOfUnit, nodeFlagsOfUnit } from '../../bench/lib/daemon-flags.mjs';

const unitPath = new URL('../../systemd/rackboot.service', import.meta.url).pathname;
const unit = readFileSync(unitPath, 'utf8');

function verify(path: string): { code: number; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    const r = verify(unitPath);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('systemd-analyze verify does catch a broken unit (so the check above means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-unit-'));
    try {
      const broken = join(dir, 'rackboot.service');
      writeFileSync(broken, unit.replace(/^ExecStart=.*$/m, 'ExecStart=relative/node serve'));
      expect(verify(broken).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives node the flags the benches run the daemon with, and the Docker image the same', () => {
    const flags = nodeFlagsOfUnit(unit);
    expect(flags).toEqual(['--max-semi-space-size=16', '--no-memory-reducer']);
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'))![1]!) as string[];
    expect(entrypoint).toEqual(['node', ...flags, '/opt/rackboot/dist/cli.js']);
    expect(() => nodeFlagsOfUnit(unit.replace(/^ExecStart=.*$/m, 'ExecStart=/opt/rackboot/bin/rackboot serve'))).toThrow(/no `node \.\.\. dist\/cli\.js`/);
  });

  it('gives the daemon the environment the benches run it with (two malloc arenas), and the Docker image the same', () => {
    const env = environmentOfUnit(unit);
    expect(env).toEqual({ MALLOC_ARENA_MAX: '2' });
    const dockerEnv = Object.fromEntries([...readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(dockerEnv).toMatchObject(env);
  });

  it('is what every bench that starts the daemon starts it with (flags and environment)', () => {
    const benchDir = new URL('../../bench/', import.meta.url);
    const starters = readdirSync(benchDir).filter((f) => /\.(measure\.ts|mjs)$/.test(f))
      .filter((f) => /Rackboot\.start\(|'serve'/.test(readFileSync(new URL(f, benchDir), 'utf8')));
    expect(starters).toContain('dhcp.measure.ts');
    for (const f of starters) {
      const text = readFileSync(new URL(f, benchDir), 'utf8');
      expect([f, /daemonNodeFlags\(\)/.test(text), /daemonEnv\(\)/.test(text)]).toEqual([f, true, true]);
    }
  });

  it('runs as a dedicated user with only the capabilities it needs', () => {
    const directives = Object.fromEntries(unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(directives.User).toBe('rackboot');
    expect(directives.AmbientCapabilities!.split(' ').sort()).toEqual(['CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']);
    expect(directives.CapabilityBoundingSet).toBe(directives.AmbientCapabilities);
    expect(directives.ProtectSystem).toBe('strict');
    expect(directives.StateDirectory).toBe('rackboot');
    expect(directives.NoNewPrivileges).toBe('yes');
  });

  it('is sandboxed: systemd-analyze security scores it at or below 1.5 (README, Running it as a service)', () => {
    const exposure = (path: string) => {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', path], { encoding: 'utf8' });
      const m = /Overall exposure level for rackboot\.service: (\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`);
      if (!m) throw new Error(`no exposure level in: ${r.stdout}${r.stderr}`);
      return Number(m[1]);
    };
    expect(exposure(unitPath)).toBeLessThanOrEqual(1.5);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`exposure level ${exposure(unitPath).toFixed(1)}`);
    // The score moves when the sandbox does, so the bound above means something.
    const dir = mkdtempSync(join(tmpdir(), 'rb-unit-'));
    try {
      const loose = join(dir, 'rackboot.service');
      writeFileSync(loose, unit.replace(/^(SystemCallFilter|ProtectProc|ProcSubset)=.*$/gm, ''));
      expect(exposure(loose)).toBeGreaterThan(1.5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reloads with SIGHUP, filters system calls, hides other processes, and bounds memory and tasks', () => {
    const lines = unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
    const all = (k: string) => lines.filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
    expect(all('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(all('SystemCallFilter')).toContain('@system-service');
    expect(all('SystemCallErrorNumber')).toEqual(['EPERM']);
    expect(all('ProtectProc')).toEqual(['invisible']);
    expect(all('ProcSubset')).toEqual(['pid']);
    expect(all('MemoryMax')).toHaveLength(1);
    expect(all('TasksMax')).toHaveLength(1);
    // Interface-bound UDP and raw ICMPv6 need no packet sockets.
    expect(all('RestrictAddressFamilies')[0]!.split(' ')).not.toContain('AF_PACKET');
  });

  it('ships a settings file that loads', () => {
    const s = loadSettings({ config: new URL('../../systemd/rackboot.yaml', import.meta.url).pathname });
    expect(s.dhcp.mode).toBe('proxy');
    expect(s.dataDir).toBe('/var/lib/rackboot');
    expect(s.inventory).toBe('/etc/rackboot/cluster.yaml');
    // The admin plane stays off the PXE network.
    expect(s.http.adminListen).toBe('127.0.0.1:8443');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  it('is multi-stage and runs as a non-root user with host networking documented', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER rackboot$/m);
    expect(dockerfile).toContain('--network host');
  });

  it('copies only files that exist in the repo', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(' ')) {
        expect(() => execFileSync('git', ['ls-files', '--error-unmatch', src], { cwd: new URL('../..', import.meta.url).pathname, stdio: 'pipe' }), src).not.toThrow();
      }
    }
  });
});
