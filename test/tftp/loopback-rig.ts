// The loopback rig of the TFTP service tests (server.test.ts,
// ack-fast-path.test.ts): a service on 127.0.0.1 with an ephemeral port and
// scripted clients (raw-client.ts), all closed after each test.
import { afterEach } from 'vitest';
import { startTftpService, type TftpService, type TftpServiceDeps } from '../../src/tftp/server.js';
import { RawClient } from './raw-client.js';

type TftpSettings = TftpServiceDeps['settings']['tftp'];

export interface LoopbackServe extends Omit<TftpServiceDeps, 'settings' | 'host'> {
  root: string;
  /** Settings over the rig's (maxBlksize 1468, maxWindowsize 16, maxTransfers 8). */
  tftp?: Partial<TftpSettings>;
}

export function useLoopbackRig() {
  const services: TftpService[] = [];
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of services.splice(0)) await s.close();
  });
  return {
    async serve({ root, tftp, ...deps }: LoopbackServe): Promise<TftpService> {
      const s = await startTftpService({
        settings: { tftp: { enabled: true, root, port: 0, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 8, ...tftp } },
        host: '127.0.0.1',
        ...deps,
      });
      services.push(s);
      return s;
    },
    /** A scripted client on 127.0.0.1 (port: a given one, e.g. a client coming back). */
    async client(port?: number): Promise<RawClient> {
      const c = await RawClient.open('127.0.0.1', port);
      clients.push(c);
      return c;
    },
    /** The client exits now (its port closes); returns that port. */
    exits(c: RawClient): number {
      const port = c.port;
      c.close();
      clients.splice(clients.indexOf(c), 1);
      return port;
    },
  };
}
