// localStorage where there is one (a page), else nothing (Node, a worker, storage disabled for the origin):
// the caches that use it (the matmul tuner's choices, 'auto''s backend choice) then live in memory only.
export function browserStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined; // e.g. storage disabled for this origin
  }
}
