// Entry point for a TFTP service in a child process, so tests can run it
// inside a network namespace. argv[2] is the JSON of TftpServiceDeps'
// plain fields. Prints {"port":N} when listening; answers a "metrics" line
// on stdin with the metrics as one JSON line; exits on SIGTERM.
import { createInterface } from 'node:readline';
import { destination, pino } from 'pino';
import { DAEMON_ACK_THREAD, startTftpService } from '../../src/tftp/server.js';

const cfg = JSON.parse(process.argv[2]!) as { tftp: { enabled: boolean; root: string; port: number; maxBlksize: number; maxWindowsize: number; maxTransfers: number }; host: string; logLevel?: string; batchedSends?: boolean; nativeAcks?: boolean; ackThread?: boolean | 'daemon' };
const log = pino({ level: cfg.logLevel ?? 'warn' }, destination(2));
const svc = await startTftpService({ settings: { tftp: cfg.tftp }, host: cfg.host, log, batchedSends: cfg.batchedSends, nativeAcks: cfg.nativeAcks, ackThread: cfg.ackThread === 'daemon' ? DAEMON_ACK_THREAD : cfg.ackThread ?? process.env.RB_ACK_THREAD === '1',
  virtualFiles: { 'boot.ipxe': () => '#!ipxe\necho virtual\n' } });
process.stdout.write(JSON.stringify({ port: svc.port }) + '\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'metrics') process.stdout.write(JSON.stringify(svc.metrics()) + '\n');
});
process.on('SIGTERM', () => void svc.close().then(() => process.exit(0)));
// Benches: RB_LOOP_STALL_MS=N holds the event loop N ms out of every 2N (a
// busy wait), as the daemon's other work does during a boot storm.
const stallMs = Number(process.env.RB_LOOP_STALL_MS ?? 0);
if (stallMs > 0) {
  setInterval(() => {
    const until = performance.now() + stallMs;
    while (performance.now() < until);
  }, 2 * stallMs).unref();
}
