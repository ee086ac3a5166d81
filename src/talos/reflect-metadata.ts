// @peculiar/x509 2.x loads tsyringe, which refuses to start without the
// `reflect-metadata` polyfill, and that package is not a dependency here.
// tsyringe only calls Reflect.defineMetadata, getOwnMetadata and getMetadata
// (for constructor parameter types), so this provides exactly that subset
// with the proposal's semantics: per-target, per-property maps, and
// getMetadata walking the prototype chain. If the real polyfill is loaded
// first, it wins. Import this module before @peculiar/x509.
type Key = string | symbol | undefined;
type Reflection = typeof Reflect & {
  defineMetadata?: (k: unknown, v: unknown, target: object, prop?: Key) => void;
  getOwnMetadata?: (k: unknown, target: object, prop?: Key) => unknown;
  getMetadata?: (k: unknown, target: object, prop?: Key) => unknown;
};

const R = Reflect as Reflection;
if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();
  const own = (target: object, prop: Key, create: boolean) => {
    let byProp = store.get(target);
    if (!byProp && create) store.set(target, (byProp = new Map()));
    let byKey = byProp?.get(prop);
    if (!byKey && create && byProp) byProp.set(prop, (byKey = new Map()));
    return byKey;
  };
  R.defineMetadata = (k, v, target, prop) => void own(target, prop, true)!.set(k, v);
  R.getOwnMetadata = (k, target, prop) => own(target, prop, false)?.get(k);
  R.getMetadata = (k, target, prop) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = own(t, prop, false);
      if (m?.has(k)) return m.get(k);
    }
    return undefined;
  };
}

export {};
