// npm run bench [-- --quick]: runs every bench/*.measure.ts file (our server
// and the reference servers side by side in namespaces the files create),
// then prints medians and ratios and leaves bench/results/latest.json.
// npm run bench:storm1000 (`-- --storm-1000`): only the boot storm, with 1,000
// machines and without the reference chain, into bench/results/storm-1000.json;
// it takes several minutes and is not part of the default run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tableOf, targetsLine } from './lib/results.mjs';

const quick = process.argv.includes('--quick');
const storm1000 = process.argv.includes('--storm-1000');
const only = storm1000 ? ['boot-storm'] : process.argv.slice(2).filter((a) => !a.startsWith('--'));
const results = fileURLToPath(new URL(`./results/${storm1000 ? 'storm-1000' : 'latest'}.json`, import.meta.url));
const benchEnv = {
  ...process.env, BENCH_QUICK: quick ? '1' : '0', BENCH_RESULTS: results,
  ...(storm1000 ? { BENCH_STORM_MACHINES: '1000', BENCH_STORM_REFERENCE: process.env.BENCH_STORM_REFERENCE ?? '0' } : {}),
};
rmSync(results, { force: true });

const started = Date.now();
const r = spawnSync('npx', ['vitest', 'run', '-c', 'vitest.bench.config.ts', '--passWithNoTests', ...only], {
  stdio: 'inherit',
  env: benchEnv,
});

// Standalone benches (plain scripts that drive reference daemons themselves).
// soak.mjs is left out: it runs for 30 minutes and has its own command,
// `npm run bench:soak`, and its own results file; so is tftp-concurrent.mjs
// (a thousand client processes for minutes; run by hand); table.mjs prints
// a results file as the README's Markdown table.
let status = r.status ?? 1;
const standalone = (f) => f.endsWith('.mjs') && !['run.mjs', 'soak.mjs', 'tftp-concurrent.mjs', 'table.mjs'].includes(f);
for (const script of readdirSync(fileURLToPath(new URL('.', import.meta.url))).filter(standalone).sort()) {
  if (only.length > 0 && !only.some((o) => script.includes(o))) continue;
  console.log(`\n== bench/${script}`);
  const s = spawnSync(process.execPath, [`bench/${script}`], { stdio: 'inherit', env: benchEnv });
  if (s.status !== 0) status = s.status ?? 1;
}

const rows = existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : [];
const table = tableOf(rows);
const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
console.log('');
for (const t of table) console.log(t.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(`\n${targetsLine(rows)}`);
console.log(`${rows.length} measures in ${((Date.now() - started) / 1000).toFixed(0)} s${quick ? ' (quick)' : ''}; written to ${results}`);
process.exit(status);
