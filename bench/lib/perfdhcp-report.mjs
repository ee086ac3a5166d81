// perfdhcp's (kea's DHCP load generator) end-of-run report, parsed in one
// place for the soak, the DHCP bench and the netns tests. Each exchange kind
// has its own section, headed "***Statistics for: DISCOVER-OFFER***" (then
// REQUEST-ACK), with one "key: value" per line. Each key is read inside its
// own section, from a whole line: a count missing from one kind is NaN there,
// never the next kind's count moved up a place.

/** perfdhcp's report as {exchange kind: {sent, received, drops}}, kinds in report order. */
export function perfdhcpStats(out) {
  const stats = {};
  const parts = out.split(/^\*\*\*Statistics for: (.+?)\*\*\*$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const num = (key) => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(parts[i + 1])?.[1]);
    stats[parts[i]] = { sent: num('sent packets'), received: num('received packets'), drops: num('drops') };
  }
  return stats;
}
