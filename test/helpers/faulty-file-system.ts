/**
 * A WritableFileSystem that fails on command: disk full (ENOSPC), I/O errors
 * (EIO), no file descriptors left (EMFILE), on opening, writing, syncing,
 * renaming, linking or unlinking, optionally after writing half of the data
 * (a torn write). Everything else goes to the real file system.
 */
import type { FileHandle } from 'node:fs/promises';
import { nodeFileSystem, type WritableFileSystem } from '../../src/store/file/file-system.js';
import { type SparePool, sparePools } from '../../src/store/file/spare-files.js';
import {
  applyUnsyncedWrites,
  nodeSyncCalls,
  type SetAside,
  type SyncFileCalls,
  type UnsyncedWrite,
} from '../../src/store/file/unsynced-writes.js';

export type Operation = 'open' | 'write' | 'sync' | 'truncate' | 'rename' | 'unlink' | 'link';

interface Fault {
  operation: Operation;
  code: 'ENOSPC' | 'EIO' | 'EMFILE';
  /** Only paths containing this. */
  pathIncludes: string;
  /** Only paths ending with this (a directory itself, not the files in it). */
  pathEndsWith: string;
  /** Write half the data before failing. */
  torn: boolean;
}

function failure(code: string, operation: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected on ${operation} ${path}`);
  error.code = code;
  return error;
}

const HANDLE_OPERATIONS: Record<string, Operation> = {
  write: 'write',
  writeFile: 'write',
  sync: 'sync',
  datasync: 'sync',
  truncate: 'truncate',
};

export class FaultyFileSystem implements WritableFileSystem, SyncFileCalls {
  private faults: Fault[] = [];
  private readonly poolOf = sparePools();
  injected = 0;

  fail(
    operation: Operation,
    code: Fault['code'],
    options: { pathIncludes?: string; pathEndsWith?: string; torn?: boolean } = {},
  ): void {
    this.faults.push({
      operation,
      code,
      pathIncludes: options.pathIncludes ?? '',
      pathEndsWith: options.pathEndsWith ?? '',
      torn: options.torn ?? false,
    });
  }

  heal(): void {
    this.faults = [];
  }

  private check(operation: Operation, path: string): Fault | undefined {
    const fault = this.faults.find(
      (candidate) =>
        candidate.operation === operation &&
        path.includes(candidate.pathIncludes) &&
        path.endsWith(candidate.pathEndsWith),
    );
    if (fault !== undefined) this.injected++;
    return fault;
  }

  async open(path: string, flags: string, mode?: number): Promise<FileHandle> {
    const fault = this.check('open', path);
    if (fault !== undefined) throw failure(fault.code, 'open', path);
    const handle = await nodeFileSystem.open(path, flags, mode);
    return new Proxy(handle, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const operation = HANDLE_OPERATIONS[String(property)];
        return async (...args: unknown[]) => {
          const handleFault = operation === undefined ? undefined : this.check(operation, path);
          if (handleFault !== undefined) {
            if (handleFault.torn && property === 'write' && Buffer.isBuffer(args[0])) {
              const data = args[0] as Buffer;
              await target.write(data.subarray(0, Math.floor(data.length / 2)));
            }
            throw failure(handleFault.code, String(property), path);
          }
          return (value as (...inner: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  async rename(from: string, to: string): Promise<void> {
    const fault = this.check('rename', to);
    if (fault !== undefined) throw failure(fault.code, 'rename', to);
    return nodeFileSystem.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    const fault = this.check('unlink', path);
    if (fault !== undefined) throw failure(fault.code, 'unlink', path);
    return nodeFileSystem.unlink(path);
  }

  writeSync(
    handle: FileHandle,
    path: string,
    data: Uint8Array,
    offset: number,
    position: number | null,
  ): number {
    const fault = this.check('write', path);
    if (fault !== undefined) {
      if (fault.torn) {
        const half = Math.floor((data.length - offset) / 2);
        nodeFileSystem.writeSync(handle, path, data.subarray(0, offset + half), offset, position);
      }
      throw failure(fault.code, 'writeSync', path);
    }
    return nodeFileSystem.writeSync(handle, path, data, offset, position);
  }

  writeFileSync(path: string, content: string, mode: number): void {
    this.writeWhole(path, content, (text) => nodeSyncCalls.writeFileSync(path, text, mode));
  }

  overwriteSync(path: string, content: string, bytesBefore: number): void {
    this.writeWhole(path, content, (text) => nodeSyncCalls.overwriteSync(path, text, bytesBefore));
  }

  /** Opens, then writes `content` with `write`: or fails as told, after half of it if torn. */
  private writeWhole(path: string, content: string, write: (text: string) => void): void {
    const openFault = this.check('open', path);
    if (openFault !== undefined) throw failure(openFault.code, 'open', path);
    const fault = this.check('write', path);
    if (fault !== undefined) {
      write(fault.torn ? content.slice(0, Math.floor(content.length / 2)) : '');
      throw failure(fault.code, 'write', path);
    }
    write(content);
  }

  linkSync(existing: string, newPath: string): void {
    const fault = this.check('link', newPath);
    if (fault !== undefined) throw failure(fault.code, 'link', newPath);
    nodeSyncCalls.linkSync(existing, newPath);
  }

  renameSync(from: string, to: string): void {
    const fault = this.check('rename', to);
    if (fault !== undefined) throw failure(fault.code, 'rename', to);
    nodeSyncCalls.renameSync(from, to);
  }

  unlinkSync(path: string): void {
    const fault = this.check('unlink', path);
    if (fault !== undefined) throw failure(fault.code, 'unlink', path);
    nodeSyncCalls.unlinkSync(path);
  }

  async writeUnsynced(
    writes: readonly UnsyncedWrite[],
    spares: SparePool | null,
    quarantineDir: string | null = null,
  ): Promise<SetAside[]> {
    return applyUnsyncedWrites(writes, this, this.poolOf(spares), quarantineDir);
  }

  rm(path: string, options?: { force?: boolean }): Promise<void> {
    return nodeFileSystem.rm(path, options);
  }

  mkdir(path: string, options: { recursive: true }): Promise<unknown> {
    return nodeFileSystem.mkdir(path, options);
  }
}
