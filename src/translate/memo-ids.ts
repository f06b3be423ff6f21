// Stable numeric ids of objects for memo keys: frozen snapshot inputs (VirtualServices, workloads)
// keep their identity across rebuilds while unchanged (SnapshotInputCache), so a key holding the
// id stays valid exactly as long as the object does (see inheritClusterMemos in src/registry).
const ids = new WeakMap<object, number>();
let next = 1;

export function objectId(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = next++));
  return id;
}
