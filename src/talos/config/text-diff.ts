// A line diff of two texts, for configs shown side by side: the fake Talos
// node answers dry runs with it (upstream prints textdiff.Diff's unified
// form), and the node page shows what the inventory changed since the node
// applied its config. Longest-common-subsequence over lines: configs are a
// few hundred lines, so the quadratic table stays small.
/** A unified diff (one hunk per run of changes, 3 lines of context), in the shape textdiff.Diff prints. */
export function unifiedDiff(a: string, b: string): string {
  if (a === b) return '';
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { op: ' ' | '-' | '+'; line: string; ai: number; bi: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) ops.push({ op: ' ', line: x[i]!, ai: i++, bi: j++ });
    else if (j < y.length && (i >= x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ op: '+', line: y[j]!, ai: i, bi: j++ });
    else ops.push({ op: '-', line: x[i]!, ai: i++, bi: j });
  }
  const out = ['--- a', '+++ b'];
  for (let k = 0; k < ops.length;) {
    if (ops[k]!.op === ' ') { k++; continue; }
    let start = Math.max(0, k - 3);
    let end = k;
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && ops[next]!.op === ' ') next++;
      if (next >= ops.length || next - end > 6) break;
      end = next;
      while (end < ops.length && ops[end]!.op !== ' ') end++;
    }
    end = Math.min(ops.length, end + 3);
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o.op !== '+').length;
    const bLen = hunk.filter((o) => o.op !== '-').length;
    out.push(`@@ -${hunk[0]!.ai + 1},${aLen} +${hunk[0]!.bi + 1},${bLen} @@`, ...hunk.map((o) => o.op + o.line));
    k = end;
    start = end;
  }
  return out.join('\n') + '\n';
}

