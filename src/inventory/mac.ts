// MAC addresses arrive in every notation operators and firmware use:
// 52:54:00:12:34:01, 52-54-00-12-34-01, 5254.0012.3401, 525400123401.
// We store one form (lower case, colon separated) so every lookup agrees.

const HEX12 = /^[0-9a-f]{12}$/;

/** Returns the normalised `aa:bb:cc:dd:ee:ff` form, or undefined when `raw` is not a MAC. */
export function normalizeMac(raw: string): string | undefined {
  const trimmed = raw.trim().toLowerCase();
  const grouped =
    /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/.exec(trimmed);
  let hex: string;
  if (grouped) hex = [1, 3, 4, 5, 6, 7].map((i) => grouped[i]).join('');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(trimmed)) hex = trimmed.replaceAll('.', '');
  else hex = trimmed;
  if (!HEX12.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

export function macFromBytes(bytes: Uint8Array): string {
  return macText(bytes.subarray(0, 6));
}

/** Hardware address bytes as lower-case hex pairs joined by colons, however many there are. */
export function macText(bytes: Uint8Array | readonly number[]): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
