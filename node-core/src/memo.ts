/**
 * `convert` remembered per string key: for pure conversions asked for on a hot path with the same
 * few inputs again and again (a peer's address parsed or canonicalized with every answer, a proxy
 * key turned into a key object). Bounded: past `max` entries the memory starts over, so a flood
 * of distinct inputs costs at most `max` entries, never a leak.
 */
export function memoize<V>(convert: (key: string) => V, max: number): (key: string) => V {
  const known = new Map<string, V>();
  return (key) => {
    let v = known.get(key);
    if (v === undefined) {
      v = convert(key);
      if (known.size >= max) known.clear();
      known.set(key, v);
    }
    return v;
  };
}
