// Addresses advertised and not yet requested, so two clients are never
// advertised one address. Bounded: the oldest hold goes first.
export class Advertised {
  private readonly byClient = new Map<string, { ip: string; until: number }>();
  private readonly byIp = new Map<string, { client: string; until: number }>();
  constructor(private readonly now: () => number, private readonly holdMs = 60_000, private readonly max = 65_536) {}

  hold(client: string, ip: string): void {
    this.forget(client);
    const until = this.now() + this.holdMs;
    this.byClient.set(client, { ip, until });
    this.byIp.set(ip, { client, until });
    if (this.byClient.size > this.max) this.forget(this.byClient.keys().next().value!);
  }

  forget(client: string): void {
    const h = this.byClient.get(client);
    if (!h) return;
    this.byClient.delete(client);
    if (this.byIp.get(h.ip)?.client === client) this.byIp.delete(h.ip);
  }

  heldFor(client: string): string | undefined {
    const h = this.byClient.get(client);
    return h && h.until > this.now() ? h.ip : undefined;
  }

  heldForOther(ip: string, client: string): boolean {
    const h = this.byIp.get(ip);
    return !!h && h.client !== client && h.until > this.now();
  }
}
