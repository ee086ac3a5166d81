// Lab and test use only.
// Shared state behind a set of fake Talos nodes: the etcd cluster they form,
// the kubeconfig archive they stream, and checks on applied machine configs.
import { gzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';

export type ConfigValidator = (doc: unknown) => string | undefined;

/** A PEM certificate and its private key. */
export interface CertAndKey {
  crt: string;
  key: string;
}

/** The config could not be read at all (not YAML, no documents), as opposed to read but invalid. */
export class ConfigParseError extends Error {
  override name = 'ConfigParseError';
}

export interface ParsedConfig {
  type: 'controlplane' | 'worker';
  /** PEM of machine.ca.crt: the CA whose os:admin clients this node accepts. */
  osCaPem: string;
  installDisk: string | undefined;
}

/** Parses and validates a machine config like Talos does before accepting it. */
export function parseMachineConfig(data: Buffer, validate: ConfigValidator | undefined): ParsedConfig {
  const docs = parseAllDocuments(data.toString('utf8'));
  if (docs.length === 0) throw new ConfigParseError('empty config');
  let machine: ParsedConfig | undefined;
  for (const d of docs) {
    if (d.errors.length) throw new ConfigParseError(`config is not YAML: ${d.errors[0]!.message}`);
    const obj = d.toJS() as Record<string, any>;
    const problem = validate?.(obj);
    if (problem) throw new Error(`config does not match the schema: ${problem}`);
    if (obj?.version === 'v1alpha1') {
      const type = obj.machine?.type;
      if (type !== 'controlplane' && type !== 'worker') throw new Error(`machine.type ${JSON.stringify(type)} is not controlplane or worker`);
      const ca = obj.machine?.ca?.crt;
      if (typeof ca !== 'string') throw new Error('machine.ca.crt missing');
      machine = { type, osCaPem: Buffer.from(ca, 'base64').toString('utf8'), installDisk: obj.machine?.install?.disk };
    }
  }
  if (!machine) throw new Error('no v1alpha1 document in the config');
  return machine;
}

export interface EtcdMember { id: string; hostname: string }

export class FakeEtcd {
  readonly members = new Map<string, EtcdMember>();
  private nextId = 0x1000n;
  bootstrapCalls = 0;
  /**
   * Control planes that were bootstrapped while etcd already ran elsewhere:
   * upstream Talos would start a second, separate etcd cluster on each.
   */
  readonly splitBrains: string[] = [];

  get exists(): boolean {
    return this.members.size > 0;
  }

  /** Control planes configured before bootstrap; they join as soon as etcd exists, as Talos's do. */
  private readonly waiting = new Set<string>();

  join(hostname: string): void {
    if (!this.members.has(hostname)) this.members.set(hostname, { id: (this.nextId++).toString(), hostname });
    for (const w of this.waiting) if (!this.members.has(w)) this.members.set(w, { id: (this.nextId++).toString(), hostname: w });
    this.waiting.clear();
  }

  /** A configured control plane: joins now if etcd exists, else when it is bootstrapped. */
  controlPlaneUp(hostname: string): void {
    if (this.exists) this.join(hostname);
    else this.waiting.add(hostname);
  }

  splitBrain(hostname: string): void {
    this.splitBrains.push(hostname);
  }

  leave(hostname: string): void {
    this.members.delete(hostname);
    this.waiting.delete(hostname);
  }

  /**
   * The member's data directory (/var/lib/etcd on EPHEMERAL, upstream
   * pkg/machinery/constants/constants.go v1.12.0) was wiped without leaving
   * etcd first. The only member takes the whole cluster's state with it;
   * one of several stays listed by the others, as etcd keeps a member until
   * it is removed.
   */
  dataWiped(hostname: string): void {
    this.waiting.delete(hostname);
    if (this.members.size === 1 && this.members.has(hostname)) this.members.clear();
  }
}

/** One ustar header block (POSIX.1-1988), enough for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000600\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** A gzip tar holding `kubeconfig`, without the end-of-archive blocks, as Talos streams it. */
export function kubeconfigArchive(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return gzipSync(Buffer.concat([tarHeader('kubeconfig', body.length), body, pad]));
}

export function fakeKubeconfig(cluster: string, endpoint: string): string {
  return [
    'apiVersion: v1', 'kind: Config',
    'clusters:', `- name: ${cluster}`, '  cluster:', `    server: ${endpoint}`, '    certificate-authority-data: ZmFrZQ==',
    'users:', `- name: admin@${cluster}`, '  user:', '    client-certificate-data: ZmFrZQ==', '    client-key-data: ZmFrZQ==',
    'contexts:', `- name: admin@${cluster}`, '  context:', `    cluster: ${cluster}`, `    user: admin@${cluster}`,
    `current-context: admin@${cluster}`, '',
  ].join('\n');
}
