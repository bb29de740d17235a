/* global localStorage */
/**
 * The API token a person pasted, kept in localStorage, with the role we found for it. Reads
 * may work without one (demo mode on localhost); writes never do.
 */
const KEY = 'switchboard.token';
const ROLE_KEY = 'switchboard.tokenRole';
const listeners = new Set();

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Private mode or storage disabled: the token lives for this page only.
  }
}

let current = read(KEY);
let role = read(ROLE_KEY);

export const token = {
  get value() {
    return current;
  },
  get role() {
    return role;
  },
  set(value, newRole) {
    current = value;
    role = newRole;
    write(KEY, value);
    write(ROLE_KEY, newRole);
    for (const fn of listeners) fn();
  },
  clear() {
    this.set(null, null);
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

export const canWrite = () => role === 'operator' || role === 'admin';
