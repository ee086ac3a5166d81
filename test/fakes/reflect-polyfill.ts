// @peculiar/x509 pulls in tsyringe, which insists on the Reflect metadata
// API at load time. No polyfill package is installed, so this is the small
// subset it uses (define/get/has metadata per target and property), kept in
// WeakMaps. Import it before @peculiar/x509.
type Key = string | symbol | undefined;
const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();

function table(target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp && create) store.set(target, (byProp = new Map()));
  let t = byProp?.get(prop);
  if (!t && create && byProp) byProp.set(prop, (t = new Map()));
  return t;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const getOwn = (k: unknown, target: object, prop?: Key) => table(target, prop, false)?.get(k);
  const get = (k: unknown, target: object, prop?: Key): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const v = table(t, prop, false);
      if (v?.has(k)) return v.get(k);
    }
    return undefined;
  };
  Object.assign(R, {
    defineMetadata: (k: unknown, v: unknown, target: object, prop?: Key) => void table(target, prop, true)!.set(k, v),
    getOwnMetadata: getOwn,
    getMetadata: get,
    hasOwnMetadata: (k: unknown, target: object, prop?: Key) => table(target, prop, false)?.has(k) ?? false,
    hasMetadata: (k: unknown, target: object, prop?: Key) => get(k, target, prop) !== undefined,
    metadata: (k: unknown, v: unknown) => (target: object, prop?: Key) => void table(target, prop, true)!.set(k, v),
  });
}
export {};
