// What "flat" means for the soak, and the sample table it prints. Pure, so
// the rule itself is tested (test/bench/soak-verdict.test.ts).
import { median } from './results.mjs';

/** The first 20% of the run is warm-up: caches, JIT, SQLite pages, lazily opened files. */
export const WARMUP_FRACTION = 0.2;
/** RSS may end this much above its post-warm-up level: 10%, but never less than 5 MB. */
export const RSS_GROWTH_FRACTION = 0.1;
export const RSS_GROWTH_MIN_MB = 5;
/** Open fds after the load stops may exceed the post-warm-up level by this many. */
export const FD_MARGIN = 3;

export const FLAT_DEFINITION = [
  `warm-up = the first ${WARMUP_FRACTION * 100}% of the samples (ignored); the rest is split into thirds.`,
  `RSS is flat if, in the last third, both the median and the max VmRSS are at most the same statistic of the`,
  `  first third + max(${RSS_GROWTH_FRACTION * 100}%, ${RSS_GROWTH_MIN_MB} MB): neither the level nor the GC peaks grow.`,
  `fds are flat if the open fds once the load has stopped and connections have drained are at most the fewest`,
  `  open fds sampled in the first third (under load, so never below the idle count) + ${FD_MARGIN}.`,
].join('\n');

const allowance = (mb) => Math.max(mb * RSS_GROWTH_FRACTION, RSS_GROWTH_MIN_MB);
const mb = (x) => x.toFixed(1);

/**
 * samples: [{rssMb, fds}] in time order, one per sampling interval.
 * quietFds: open fds after the load stopped and connections drained.
 */
export function flatVerdict(samples, quietFds) {
  const warmup = Math.ceil(samples.length * WARMUP_FRACTION);
  const rest = samples.slice(warmup);
  if (rest.length < 3) return { flat: false, why: `too few samples after warm-up (${rest.length}); run longer` };
  const third = Math.floor(rest.length / 3);
  const first = rest.slice(0, third).map((s) => s.rssMb);
  const last = rest.slice(rest.length - third).map((s) => s.rssMb);
  const rss = {
    median: { from: median(first), to: median(last) },
    max: { from: Math.max(...first), to: Math.max(...last) },
  };
  const grows = (st) => st.to - st.from > allowance(st.from);
  const rssFlat = !grows(rss.median) && !grows(rss.max);
  const fdBaseline = Math.min(...rest.slice(0, third).map((s) => s.fds));
  const fdsFlat = quietFds - fdBaseline <= FD_MARGIN;
  const line = (name, st) => `${name} ${mb(st.from)} -> ${mb(st.to)} MB (${st.to >= st.from ? '+' : ''}${mb(st.to - st.from)}, allowed +${mb(allowance(st.from))})`;
  const why = [
    `RSS, first third -> last third: ${line('median', rss.median)}, ${line('max', rss.max)}: ${rssFlat ? 'flat' : 'GROWS'}`,
    `fds: ${quietFds} after the load vs ${fdBaseline} (first-third min) (${quietFds >= fdBaseline ? '+' : ''}${quietFds - fdBaseline}, allowed +${FD_MARGIN}): ${fdsFlat ? 'flat' : 'GROWS'}`,
  ].join('\n');
  for (const st of Object.values(rss)) st.allowedMb = allowance(st.from);
  return { flat: rssFlat && fdsFlat, rssFlat, fdsFlat, rss, fdBaseline, quietFds, warmup, third, why };
}

/**
 * Fixed-width table: one row per sample, one column per load type. Rows
 * printed one at a time as the run goes pass `minWidth`, so they line up.
 */
export function sampleTable(samples, loadNames, minWidth = 0) {
  const head = ['elapsed', 'rss MB', 'heap MB', 'fds', ...loadNames, 'errors'];
  const clock = (secs) => `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  const rows = samples.map((s) => [
    clock(Math.round(s.elapsedS)),
    s.rssMb.toFixed(1), s.heapMb === null ? '-' : s.heapMb.toFixed(1), String(s.fds),
    ...loadNames.map((n) => String(s.done[n] ?? 0)), String(s.errors),
  ]);
  const widths = head.map((h, i) => Math.max(minWidth, h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padStart(widths[i])).join('  ')).join('\n');
}
