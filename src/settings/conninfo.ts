// The one way a database conninfo (store: / scaleOut.postgres) is made fit to
// print. The README asks for passwords in ~/.pgpass, but a URI with one in it
// still works, so every place that echoes the setting (a settings error, a
// reload's log line, doctor, store migrate) goes through this.

/**
 * Hides a password in a URI (user:PASSWORD@, ?password=) or a key=value
 * conninfo anywhere in `text`. Any scheme, not only postgres://: a value that
 * failed the schema (`postgress://…`) is echoed in the error that says so.
 */
export function redactConninfo(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@\s"]*@/gi, '$1***@')
    .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)/gi, '$1***');
}
