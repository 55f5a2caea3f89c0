// localStorage/sessionStorage that never throws: private modes, sandboxed iframes and full quotas
// make the Storage API throw, so every value is mirrored in memory and reads fall back to it.

export type Area = 'localStorage' | 'sessionStorage';

const memory: { [key: string]: string } = {};

export function area(name: Area): Storage | undefined {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}

export function read(name: Area, key: string): string | undefined {
  let value: string | null | undefined;
  try {
    value = area(name)?.getItem(key);
  } catch {
    // unreadable: use the copy kept in memory
  }
  value ??= memory[name + key];
  if (value == null) return undefined;
  // Segment's analytics.js stores ids JSON-encoded; accept both forms so identities carry over.
  try {
    return value[0] === '"' ? JSON.parse(value) : value;
  } catch {
    return value;
  }
}

export function write(name: Area, key: string, value: string | undefined): void {
  const stored = value === undefined ? undefined : JSON.stringify(value);
  if (stored === undefined) delete memory[name + key];
  else memory[name + key] = stored;
  try {
    const s = area(name);
    if (stored === undefined) s?.removeItem(key);
    else s?.setItem(key, stored);
  } catch {
    // kept in memory only
  }
}
