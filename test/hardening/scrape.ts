// One /metrics scrape of a daemon's admin plane, from inside its namespace
// (the failover tests compare what two appliances say about their segment).
import type { Netns } from '../helpers/netns.js';
import type { Rackboot } from '../dhcp/netns/harness.js';

/** Metric name (with labels, without the rackboot_ prefix) to value. */
export function scrapeMetrics(ns: Netns, rb: Rackboot, token: string): Map<string, number> {
  const admin = String(rb.lines.find((l) => l.msg === 'rackboot serving')?.admin ?? '');
  const port = /:(\d+)\/ui$/.exec(admin)?.[1];
  if (!port) throw new Error(`no admin address in the log: ${admin}`);
  const text = ns.exec('curl', ['-sfk', '-H', `Authorization: Bearer ${token}`, `https://127.0.0.1:${port}/metrics`]);
  return new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const at = l.lastIndexOf(' ');
    return [l.slice(0, at).replace(/^rackboot_/, ''), Number(l.slice(at + 1))] as const;
  }));
}
