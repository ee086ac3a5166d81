import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('rb-cli-');

describe('rackboot CLI', () => {
  it('--help lists every command', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['serve', 'inventory check', 'nodes', 'doctor', 'init', 'config', 'talosconfig', 'schematic', 'assets fetch', 'reimage', 'bootstrap', 'kubeconfig', 'lab']) {
      expect(r.stdout).toContain(`  ${c} `);
    }
  });

  it('no command is bad usage (exit 2)', () => {
    expect(runCli([]).code).toBe(2);
    expect(runCli(['frobnicate']).code).toBe(2);
    expect(runCli(['serve', '--bogus']).code).toBe(2);
    expect(runCli(['inventory']).stderr).toContain('expected one of: check');
  });

  it('every command has --help', () => {
    for (const c of [['serve'], ['inventory', 'check'], ['nodes'], ['doctor']]) {
      const r = runCli([...c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`rackboot ${c.join(' ')}`);
      expect(r.stdout).toContain('--data-dir DIR');
    }
  });

  it('inventory check accepts the example and names the line of a duplicate MAC', () => {
    expect(runCli(['inventory', 'check', 'inventory/cluster.yaml']).code).toBe(0);
    const dir = tmp();
    const bad = join(dir, 'dup.yaml');
    const text = readFileSync('inventory/cluster.yaml', 'utf8').replace('mac: 52:54:00:12:34:12', 'mac: 52:54:00:12:34:01');
    writeFileSync(bad, text);
    const line = text.split('\n').findIndex((l) => l.includes('mac: 52:54:00:12:34:01') && !l.includes('#')) + 1;
    const lastLine = text.split('\n').map((l, i) => [l, i + 1] as const).filter(([l]) => l.includes('mac: 52:54:00:12:34:01')).at(-1)![1];
    const r = runCli(['inventory', 'check', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:${lastLine}:10: node worker-2: duplicate mac 52:54:00:12:34:01 (first used by node cp-1 on line ${line})`);
  });

  it('an invalid settings file is refused with file:line', () => {
    const dir = tmp();
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, 'dhcp:\n  mode: everything\n');
    const r = runCli(['nodes', '--config', cfg, '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${cfg}:2:9: dhcp.mode: must be one of "full", "proxy", "off"`);
  });

  it('nodes works without a daemon, as a table and as JSON', () => {
    const dir = tmp();
    const table = runCli(['nodes', '--data-dir', dir]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+ROLE\s+STATE/);
    expect(table.stdout).toMatch(/cp-1\s+controlplane\s+registered\s+52:54:00:12:34:01/);
    const json = JSON.parse(runCli(['nodes', '--json', '--data-dir', dir]).stdout) as Array<{ name: string; state: string }>;
    expect(json.map((n) => n.name)).toEqual(['cp-1', 'cp-2', 'cp-3', 'worker-1', 'worker-2']);
  });

  it('nodes into a reader that has already gone (| head) exits 0 without a stack trace', async () => {
    const p = startCli(['nodes', '--data-dir', tmp()]);
    p.stdout!.destroy(); // our end of the pipe closes before the CLI writes a line
    const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
    expect(p.output()).toBe('');
    expect(code).toBe(0);
  });

  it('serve runs on the example inventory, picks up an added node within 2 s, and exits 0 on SIGTERM', async () => {
    const dir = tmp();
    const inv = join(dir, 'cluster.yaml');
    copyFileSync('inventory/cluster.yaml', inv);
    const port = 20000 + Math.floor(Math.random() * 20000);
    // No console receiver: its fixed port would be shared with other daemons tests run beside this one.
    const cfg = join(dir, 'rackboot.yaml');
    writeFileSync(cfg, 'console:\n  enabled: false\n');
    const p = startCli(['serve', '--config', cfg, '--no-dhcp', '--no-tftp', '--http-listen', `127.0.0.1:${port}`, '--admin-listen', `127.0.0.1:${port + 1}`, '--data-dir', dir, '--inventory', inv, '--log-level', 'warn']);
    try {
      // The API is on the admin plane: HTTPS with the certificate made at first start, pinned here.
      const url = `https://127.0.0.1:${port + 1}/api/nodes`;
      let agent: Agent | undefined;
      const dispatcher = () => (agent ??= new Agent({ connect: { ca: readFileSync(join(dir, 'admin-tls', 'cert.pem'), 'utf8') } }));
      // A fresh data dir: the daemon generates the admin token into DATA/admin-token.
      const token = () => (existsSync(join(dir, 'admin-token')) ? readFileSync(join(dir, 'admin-token'), 'utf8').trim() : '');
      const auth = () => ({ headers: { authorization: `Bearer ${token()}` }, dispatcher: dispatcher() });
      let nodes: Array<{ name: string }> = [];
      for (let i = 0; i < 100 && nodes.length === 0; i++) {
        nodes = await Promise.resolve().then(() => request(url, auth())).then((r) => r.body.json() as Promise<{ nodes?: Array<{ name: string }> }>).then((j) => j.nodes ?? []).catch(() => []);
        if (nodes.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(nodes.map((n) => n.name)).toEqual(['cp-1', 'cp-2', 'cp-3', 'worker-1', 'worker-2']);

      writeFileSync(inv, readFileSync(inv, 'utf8') + '  - name: worker-3\n    mac: 52:54:00:12:34:13\n    role: worker\n');
      const t0 = Date.now();
      let seen = false;
      while (!seen && Date.now() - t0 < 2000) {
        const list = ((await request(url, auth()).then((r) => r.body.json())) as { nodes: Array<{ name: string }> }).nodes;
        seen = list.some((n) => n.name === 'worker-3');
        if (!seen) await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen).toBe(true);
      await agent?.close();
    } finally {
      p.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(p.output()).not.toContain('"level":50');
  });
});
