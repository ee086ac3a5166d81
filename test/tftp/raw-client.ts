// A scriptable TFTP peer for tests: sends exact bytes and records every
// packet that comes back, with the port it came from.
import { createSocket, type Socket } from 'node:dgram';
import { decodePacket, type TftpPacket } from '../../src/tftp/codec.js';

export interface Received {
  from: number;
  raw: Buffer;
  packet: TftpPacket | undefined;
}

export class RawClient {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket, readonly host: string) {
    socket.on('message', (raw, rinfo) => {
      const d = decodePacket(raw);
      this.received.push({ from: rinfo.port, raw, packet: d.ok ? d.packet : undefined });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(host = '127.0.0.1', port = 0): Promise<RawClient> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(port, host, () => r()));
    return new RawClient(s, host);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Uint8Array, port: number): void {
    this.socket.send(buf, port, this.host);
  }

  /** Waits until `count` packets in total have arrived, or rejects after `ms`. */
  async waitFor(count: number, ms = 3000): Promise<Received[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} packets, got ${this.received.length}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
    return this.received;
  }

  /** Waits `ms` and returns how many packets arrived meanwhile. */
  async quiet(ms: number): Promise<number> {
    const before = this.received.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.received.length - before;
  }

  close(): void {
    this.socket.close();
  }
}
