/**
 * A WritableFileSystem that times every fsync and fdatasync and reports it,
 * with the kind of file synced, to `observe` (the service feeds its metrics
 * with it). Everything else passes straight through.
 */
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { WritableFileSystem } from './file-system.js';

export type SyncObserver = (file: string, seconds: number) => void;

/** `journal`, `events`, `session`, `stats`, `instance`, `directory` or `other`. */
export function syncedFileKind(path: string): string {
  const name = basename(path);
  if (basename(dirname(path)) === 'journal' && name.endsWith('.jsonl')) return 'journal';
  if (name === 'events.jsonl') return 'events';
  if (basename(dirname(path)) === 'sessions') return 'session';
  if (name.startsWith('stats.json')) return 'stats';
  if (name.startsWith('instance.json')) return 'instance';
  if (!name.includes('.')) return 'directory';
  return 'other';
}

export function timedFileSystem(fs: WritableFileSystem, observe: SyncObserver): WritableFileSystem {
  return {
    async open(path, flags, mode) {
      const handle = await fs.open(path, flags, mode);
      const kind = syncedFileKind(path);
      return new Proxy(handle, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          if (property !== 'sync' && property !== 'datasync') return value.bind(target);
          return async () => {
            const started = performance.now();
            await (value as () => Promise<void>).call(target);
            observe(kind, (performance.now() - started) / 1000);
          };
        },
      }) as FileHandle;
    },
    rename: (from, to) => fs.rename(from, to),
    unlink: (path) => fs.unlink(path),
    rm: (path, options) => fs.rm(path, options),
    mkdir: (path, options) => fs.mkdir(path, options),
    writeSync: (handle, path, data, offset, position) =>
      fs.writeSync(handle, path, data, offset, position),
    writeUnsynced: (writes, spares, quarantineDir) =>
      fs.writeUnsynced(writes, spares, quarantineDir),
  };
}
