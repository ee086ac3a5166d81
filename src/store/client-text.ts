/**
 * Text a client chose (a DHCP host name, vendor class or user class: octets
 * by RFC 2132 §3.14 and §9.13, RFC 3004) as the stores keep it: without NUL.
 * PostgreSQL's text cannot hold one (SQLSTATE 22021), and a statement that
 * fails on one client's octets fails every row written with it; SQLite keeps
 * the same text, so both stores list the same row.
 */
export function storableText(v: string): string;
export function storableText(v: string | undefined): string | undefined;
export function storableText(v: string | undefined): string | undefined {
  return v?.includes('\0') ? v.replace(/\0/g, '') : v;
}
