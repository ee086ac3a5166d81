// Work over many items with at most `lanes` of it under way at once: BMC
// power requests (bmc/operate.ts) and the health pass's probes
// (talos/health.ts) each open a connection per item, and a rack of
// thousands must not open thousands at once.

/** Results in the items' order; each lane takes the next item as soon as its previous one ends. */
export async function inLanes<T, R>(items: readonly T[], lanes: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
  return results;
}
