// Real registry clients against the appliance's /v2/ endpoint on loopback:
// Debian's skopeo (containers/image) and containerd's ctr, with a containerd
// this test starts itself (temp root, state and socket; never the system one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testAppliance, type TestAppliance } from '../helpers/appliance.js';
import { buildImage, tarLayout, writeLayout, type BuiltImage } from '../helpers/oci-image.js';
import { ImageStore } from '../../src/registry/image-store.js';
import { exportArchive, importArchive } from '../../src/registry/oci-archive.js';

const run = promisify(execFile);
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let a: TestAppliance;
let host: string;
let tool: BuiltImage;
let busybox: BuiltImage;
let pause: BuiltImage;
let containerd: ChildProcess | undefined;
let sock: string;

beforeAll(async () => {
  a = await testAppliance();
  tool = await buildImage('ghcr.io/rackboot-test/tool:v1', 'tool');
  busybox = await buildImage('docker.io/library/busybox:1.36', 'busybox', { docker: true });
  pause = await buildImage('registry.k8s.io/pause:3.10', 'pause');
  writeLayout(join(a.dir, 'layout'), [tool, busybox, pause]);
  tarLayout(join(a.dir, 'layout'), join(a.dir, 'images.tar'));
  await importArchive(new ImageStore(a.settings.dataDir), join(a.dir, 'images.tar'));
  await a.app.listen({ host: '127.0.0.1', port: 0 });
  host = `127.0.0.1:${(a.app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  if (containerd && containerd.exitCode === null) {
    containerd.kill('SIGTERM');
    await new Promise((r) => containerd!.once('exit', r));
  }
  await a.close();
});

describe('skopeo (containers/image) copies from the appliance', () => {
  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 });

  it('copies an OCI two-platform index with every digest preserved and verified', async () => {
    const out = join(a.dir, 'skopeo-oci');
    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/ghcr.io/rackboot-test/tool:v1`, `oci:${out}:v1`);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([tool.digest]);
    for (const [digest, bytes] of tool.blobs) {
      const copied = readFileSync(join(out, 'blobs', 'sha256', digest.slice(7)));
      expect(sha(copied)).toBe(digest);
      expect(copied.equals(bytes)).toBe(true);
    }
  }, 120_000);

  it('copies a Docker schema 2 manifest list as is (dir: keeps the bytes, so the digest)', async () => {
    const out = join(a.dir, 'skopeo-docker');
    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/docker.io/library/busybox:1.36`, `dir:${out}`);
    const list = readFileSync(join(out, 'manifest.json'));
    expect(sha(list)).toBe(busybox.digest);
    expect(JSON.parse(list.toString()).mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    for (const p of busybox.platforms) for (const layer of p.layers) expect(sha(readFileSync(join(out, layer.slice(7))))).toBe(layer);
  }, 120_000);

  it('pulls one platform by digest, and inspects the raw manifest by digest', async () => {
    const arm = tool.platforms.find((p) => p.arch === 'arm64')!;
    const out = join(a.dir, 'skopeo-dir');
    await skopeo('copy', '--src-tls-verify=false', `docker://${host}/ghcr.io/rackboot-test/tool@${arm.manifest}`, `dir:${out}`);
    expect(sha(readFileSync(join(out, 'manifest.json')))).toBe(arm.manifest);
    for (const layer of arm.layers) expect(sha(readFileSync(join(out, layer.slice(7))))).toBe(layer);
    const { stdout } = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/ghcr.io/rackboot-test/tool@${arm.manifest}`);
    expect(sha(Buffer.from(stdout))).toBe(arm.manifest);
  }, 120_000);

  it('writes an oci-archive that images import takes as is (the round trip through skopeo)', async () => {
    const file = join(a.dir, 'skopeo-archive.tar');
    await skopeo('copy', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${host}/ghcr.io/rackboot-test/tool:v1`, `oci-archive:${file}:ghcr.io/rackboot-test/tool:v1`);
    const other = new ImageStore(join(a.dir, 'second-appliance'));
    const imported = await importArchive(other, file);
    expect(imported.map((i) => [i.name, i.tag, i.digest])).toEqual([['ghcr.io/rackboot-test/tool', 'v1', tool.digest]]);
    expect(other.blobDigests().sort()).toEqual([...tool.blobs.keys()].sort());
    // And the other way: what images export writes, skopeo reads.
    const exported = join(a.dir, 'rackboot-export.tar');
    await exportArchive(other, exported);
    const back = join(a.dir, 'skopeo-from-export');
    await skopeo('copy', '--all', '--preserve-digests', `oci-archive:${exported}:ghcr.io/rackboot-test/tool:v1`, `oci:${back}:x`);
    expect((JSON.parse(readFileSync(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }).manifests[0]!.digest).toBe(tool.digest);
  }, 120_000);

  it('gets the spec\'s error for an image the appliance does not hold', async () => {
    const err = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/ghcr.io/rackboot-test/tool:v404`).catch((e: { stderr: string }) => e);
    expect((err as { stderr: string }).stderr).toMatch(/manifest unknown/i);
  }, 60_000);
});

describe('curl resumes a blob download with Range', () => {
  it('a download cut after 1000 bytes finishes with -C - and hashes to the digest', async () => {
    const layer = tool.platforms[0]!.layers[1]!;
    const url = `http://${host}/v2/ghcr.io/rackboot-test/tool/blobs/${layer}`;
    const file = join(a.dir, 'resumed');
    await run('curl', ['-sf', '-r', '0-999', '-o', file, url]);
    expect(readFileSync(file).length).toBe(1000);
    const { stderr } = await run('curl', ['-sSf', '-v', '-C', '-', '-o', file, url]);
    expect(stderr).toMatch(/Range: bytes=1000-/i);
    expect(stderr).toMatch(/HTTP\/1\.1 206/);
    expect(sha(readFileSync(file))).toBe(layer);
  }, 60_000);
});

describe('containerd (ctr) pulls from the appliance over plain HTTP', () => {
  const ctr = (...args: string[]) => run('ctr', ['--address', sock, '--namespace', 'rackboot-test', ...args], { timeout: 90_000 });

  beforeAll(async () => {
    const root = join(a.dir, 'containerd');
    mkdirSync(root, { recursive: true });
    sock = join(root, 'containerd.sock');
    const config = join(root, 'config.toml');
    writeFileSync(config, [
      'version = 2',
      `root = "${join(root, 'root')}"`,
      `state = "${join(root, 'state')}"`,
      // Only content, images and the native snapshotter are needed; CRI would try to manage the host.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${sock}"`,
      '[ttrpc]', `  address = "${sock}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(root, 'opt')}"`,
    ].join('\n') + '\n');
    containerd = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    containerd.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    while (!existsSync(sock)) {
      if (containerd.exitCode !== null || Date.now() > deadline) throw new Error(`containerd did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await ctr('version');
  }, 60_000);

  it('pulls and unpacks by tag (the layers\' diff_ids check out)', async () => {
    await ctr('images', 'pull', '--plain-http', '--snapshotter', 'native', `${host}/ghcr.io/rackboot-test/tool:v1`);
    const { stdout } = await ctr('images', 'ls');
    expect(stdout).toContain(`${host}/ghcr.io/rackboot-test/tool:v1`);
    expect(stdout).toContain(tool.digest);
  }, 120_000);

  it('pulls by digest, all platforms, every blob landing under its digest', async () => {
    await ctr('images', 'pull', '--plain-http', '--all-platforms', `${host}/docker.io/library/busybox@${busybox.digest}`);
    const { stdout } = await ctr('content', 'ls', '-q');
    for (const digest of busybox.blobs.keys()) expect(stdout).toContain(digest);
  }, 120_000);

  it('pulls registry.k8s.io/pause through a registry mirror (hosts.toml), the way a node\'s containerd does', async () => {
    const hosts = join(a.dir, 'hosts.d');
    mkdirSync(join(hosts, 'registry.k8s.io'), { recursive: true });
    // The server is the appliance as well: if the mirror failed, nothing may go to the internet.
    writeFileSync(join(hosts, 'registry.k8s.io', 'hosts.toml'), `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`);
    await ctr('images', 'pull', '--hosts-dir', hosts, '--snapshotter', 'native', 'registry.k8s.io/pause:3.10');
    const { stdout } = await ctr('images', 'ls');
    expect(stdout).toContain('registry.k8s.io/pause:3.10');
    expect(stdout).toContain(pause.digest);
  }, 120_000);
});
