// What the CLI prints of strings that came off the network (vendor and user
// class, UUIDs, relay addresses, state reasons quoting a node's errors): a
// DHCP option can carry ESC, CR or NUL, and printed raw those rewrite the
// operator's terminal (move the cursor, recolour, hide a line). Every C0 and
// C1 control and DEL is shown as a visible \xNN escape, and a backslash as
// \\, so what is printed reads back unambiguously.

// C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F), and the backslash.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\\]/g;

export function printable(s: string): string {
  return s.replace(UNSAFE, (c) => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** JSON for a terminal: JSON.stringify escapes C0 already; DEL and C1 get \u escapes too (still valid JSON). */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A table with a header row: every cell made printable, columns padded to the widest cell. */
export function printTable(rows: string[][], out: (line: string) => void): void {
  const safe = rows.map((r) => r.map(printable));
  const widths = safe[0]!.map((_, i) => Math.max(...safe.map((r) => r[i]!.length)));
  for (const r of safe) out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}
