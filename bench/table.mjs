#!/usr/bin/env node
// node bench/table.mjs [FILE]: the bench table of a results file
// (bench/results/latest.json by default) as Markdown, the way the README's
// Performance section shows it, followed by the targets line.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tableOf, targetsLine } from './lib/results.mjs';

const file = process.argv[2] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
const rows = JSON.parse(readFileSync(file, 'utf8'));
const [head, ...body] = tableOf(rows);
const line = (cells) => `| ${cells.join(' | ')} |`;
console.log([line(head), line(head.map(() => '---')), ...body.map(line), '', targetsLine(rows)].join('\n'));
