// A kernel command line as Talos edits it: parameters grouped by key, in the
// order each key first appeared, each key holding its values in order
// (siderolabs/go-procfs procfs/cmdline.go v0.1.2, the version Talos v1.11.0
// through v1.13.x build with). So `console=tty0 foo console=ttyS0` prints as
// `console=tty0 console=ttyS0 foo`, and `slab_nomerge=` as `slab_nomerge`.

export interface AppendOptions {
  /** Keys whose values from the new args replace the existing ones (in place) instead of adding to them. */
  overwrite?: string[];
  /** `-key` removes every value of key; `-key=value` removes that one value. */
  deleteNegated?: boolean;
}

type Param = { key: string; values: string[] };

/** Splits on whitespace; `a=b=c` is key `a`, value `b=c`; a bare word has the empty value. Groups by key. */
function parse(args: string[]): Param[] {
  const out: Param[] = [];
  for (const word of args.join(' ').split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    const [key, value] = eq < 0 ? [word, ''] : [word.slice(0, eq), word.slice(eq + 1)];
    const p = out.find((x) => x.key === key);
    if (p) p.values.push(value);
    else out.push({ key, values: [value] });
  }
  return out;
}

export class Cmdline {
  private params: Param[];

  constructor(args: string[] = []) {
    this.params = parse(args);
  }

  /** Adds a value to the key (where the key already is, or at the end). */
  append(key: string, value: string): this {
    const p = this.params.find((x) => x.key === key);
    if (p) p.values.push(value);
    else this.params.push({ key, values: [value] });
    return this;
  }

  /** Replaces every value of each key given (in place), or adds the key at the end. */
  setAll(args: string[]): this {
    for (const p of parse(args)) this.set(p);
    return this;
  }

  private set(p: Param): void {
    const i = this.params.findIndex((x) => x.key === p.key);
    if (i >= 0) this.params[i] = { key: p.key, values: [...p.values] };
    else this.params.push({ key: p.key, values: [...p.values] });
  }

  deleteAll(key: string): this {
    this.params = this.params.filter((x) => x.key !== key);
    return this;
  }

  /** Removes these values of the key; the key stays, possibly with no values (it then prints nothing). */
  deleteValues(key: string, values: string[]): this {
    const p = this.params.find((x) => x.key === key);
    if (p) p.values = p.values.filter((v) => !values.includes(v));
    return this;
  }

  /** procfs AppendAll: each new key in turn is removed (negated), replaced (overwrite) or added to. */
  appendAll(args: string[], opts: AppendOptions = {}): this {
    for (const p of parse(args)) {
      // A lone `-` is a valid kernel argument, not a negation.
      if (opts.deleteNegated && p.key.length > 1 && p.key.startsWith('-')) {
        if (p.values[0] === '') this.deleteAll(p.key.slice(1));
        else this.deleteValues(p.key.slice(1), p.values);
        continue;
      }
      if (opts.overwrite?.includes(p.key)) this.set(p);
      else for (const v of p.values) this.append(p.key, v);
    }
    return this;
  }

  values(key: string): string[] {
    return [...(this.params.find((x) => x.key === key)?.values ?? [])];
  }

  toArgs(): string[] {
    return this.params.flatMap((p) => p.values.map((v) => (v === '' ? p.key : `${p.key}=${v}`)));
  }

  toString(): string {
    return this.toArgs().join(' ');
  }
}
