/**
 * A WritableFileSystem that does every call for real and records it, in the
 * order the calls finished: which bytes went to which file at which offset,
 * truncations, creations, hard links, renames, unlinks and new directories,
 * and each fsync/fdatasync as two steps (its start, which fixes what it
 * covers, and its end, after which that is durable). The workload adds `ack`
 * marks when an answer is acknowledged. crash-states.ts replays the trace to
 * build what a power cut at any point could leave on the disk.
 *
 * Files are followed by inode (a number), not by name: a rename moves the
 * name, the open handle keeps writing to the same inode, and a hard link
 * gives it another name.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { nodeFileSystem, type WritableFileSystem } from '../../src/store/file/file-system.js';
import { type SparePool, sparePools } from '../../src/store/file/spare-files.js';
import {
  applyUnsyncedWrites,
  nodeSyncCalls,
  type SetAside,
  type SyncFileCalls,
  type UnsyncedWrite,
} from '../../src/store/file/unsynced-writes.js';

/** A path relative to the recorded directory, with `/` separators ('' is the directory itself). */
export type RelPath = string;

export type TraceOp =
  | { op: 'link'; path: RelPath; inode: number; dir: boolean }
  /** Another name for an inode that has one (a hard link). */
  | { op: 'hardlink'; path: RelPath; inode: number }
  | { op: 'unlink'; path: RelPath }
  | { op: 'rename'; from: RelPath; to: RelPath }
  | { op: 'write'; inode: number; offset: number; data: Buffer }
  | { op: 'truncate'; inode: number; size: number }
  | { op: 'sync-start'; id: number; inode: number; dir: RelPath | null }
  | { op: 'sync-end'; id: number }
  | { op: 'ack'; label: string };

/** The recorded directory as it was when recording started (all of it durable). */
export interface InitialTree {
  dirs: RelPath[];
  files: { path: RelPath; inode: number; data: Buffer }[];
}

export interface Trace {
  initial: InitialTree;
  ops: TraceOp[];
  /** Inode numbers of directories, by path, when recording started (the root is 0). */
  dirInodes: Map<RelPath, number>;
}

export class RecordingFileSystem implements WritableFileSystem, SyncFileCalls {
  readonly ops: TraceOp[] = [];
  readonly initial: InitialTree = { dirs: [], files: [] };
  /** The recorder's own view of names (to know which inode a path is) and sizes. */
  private readonly names = new Map<RelPath, number>();
  private readonly sizes = new Map<number, number>();
  private readonly dirInodes = new Map<RelPath, number>();
  private nextInode = 1;
  private nextSync = 1;
  private readonly poolOf = sparePools();

  constructor(private readonly root: string) {
    this.names.set('', 0);
    this.dirInodes.set('', 0);
    this.scan('');
  }

  trace(): Trace {
    return { initial: this.initial, ops: this.ops, dirInodes: new Map(this.dirInodes) };
  }

  ack(label: string): void {
    this.ops.push({ op: 'ack', label });
  }

  private scan(dir: RelPath): void {
    for (const name of readdirSync(join(this.root, dir)).sort()) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const inode = this.nextInode++;
      this.names.set(path, inode);
      if (lstatSync(join(this.root, path)).isDirectory()) {
        this.initial.dirs.push(path);
        this.dirInodes.set(path, inode);
        this.scan(path);
      } else {
        const data = readFileSync(join(this.root, path));
        this.initial.files.push({ path, inode, data });
        this.sizes.set(inode, data.length);
      }
    }
  }

  private rel(path: string): RelPath {
    const relativePath = relative(this.root, path);
    if (relativePath.startsWith('..')) throw new Error(`${path} is outside ${this.root}`);
    return relativePath.split(sep).join('/');
  }

  private inodeOf(path: RelPath): number {
    const inode = this.names.get(path);
    if (inode === undefined) throw new Error(`the recorder does not know ${path}`);
    return inode;
  }

  async open(path: string, flags: string, mode?: number): Promise<FileHandle> {
    const rel = this.rel(path);
    const existed = existsSync(path);
    const handle = await nodeFileSystem.open(path, flags, mode);
    const isDir = existed && lstatSync(path).isDirectory();
    let inode: number;
    if (!existed) {
      inode = this.nextInode++;
      this.names.set(rel, inode);
      this.sizes.set(inode, 0);
      this.ops.push({ op: 'link', path: rel, inode, dir: false });
    } else {
      inode = this.inodeOf(rel);
      if (flags.startsWith('w') && (this.sizes.get(inode) ?? 0) > 0) {
        this.sizes.set(inode, 0);
        this.ops.push({ op: 'truncate', inode, size: 0 });
      }
    }
    return this.wrap(handle, inode, flags.startsWith('a'), isDir ? rel : null);
  }

  private wrap(
    handle: FileHandle,
    inode: number,
    append: boolean,
    dir: RelPath | null,
  ): FileHandle {
    const { ops, sizes } = this;
    let position = 0;
    const wrote = (offset: number, data: Buffer) => {
      if (data.length === 0) return;
      ops.push({ op: 'write', inode, offset, data: Buffer.from(data) });
      sizes.set(inode, Math.max(sizes.get(inode) ?? 0, offset + data.length));
    };
    const sync = async (call: () => Promise<void>) => {
      const id = this.nextSync++;
      ops.push({ op: 'sync-start', id, inode, dir });
      await call();
      ops.push({ op: 'sync-end', id });
    };
    const recorder = {
      async write(data: Buffer | string, offset?: number, length?: number) {
        const bytes =
          typeof data === 'string'
            ? Buffer.from(data)
            : data.subarray(offset ?? 0, (offset ?? 0) + (length ?? data.length - (offset ?? 0)));
        const at = append ? (sizes.get(inode) ?? 0) : position;
        const result = await handle.write(bytes);
        wrote(at, bytes.subarray(0, result.bytesWritten));
        position = at + result.bytesWritten;
        return result;
      },
      async writeFile(data: Buffer | string) {
        const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
        const at = append ? (sizes.get(inode) ?? 0) : position;
        await handle.writeFile(bytes);
        wrote(at, bytes);
        position = at + bytes.length;
      },
      async truncate(size = 0) {
        await handle.truncate(size);
        sizes.set(inode, size);
        ops.push({ op: 'truncate', inode, size });
      },
      datasync: () => sync(() => handle.datasync()),
      sync: () => sync(() => handle.sync()),
    } as const;
    return new Proxy(handle, {
      get(target, property) {
        if (typeof property === 'string' && property in recorder) {
          return recorder[property as keyof typeof recorder];
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as FileHandle;
  }

  writeSync(
    handle: FileHandle,
    path: string,
    data: Uint8Array,
    offset: number,
    position: number | null,
  ): number {
    const inode = this.inodeOf(this.rel(path));
    const at = position ?? this.sizes.get(inode) ?? 0;
    const written = nodeFileSystem.writeSync(handle, path, data, offset, position);
    if (written > 0) {
      const bytes = Buffer.from(data.subarray(offset, offset + written));
      this.ops.push({ op: 'write', inode, offset: at, data: bytes });
      this.sizes.set(inode, Math.max(this.sizes.get(inode) ?? 0, at + written));
    }
    return written;
  }

  writeFileSync(path: string, content: string, mode: number): void {
    const rel = this.rel(path);
    const existed = existsSync(path);
    nodeSyncCalls.writeFileSync(path, content, mode);
    let inode: number;
    if (!existed) {
      inode = this.nextInode++;
      this.names.set(rel, inode);
      this.ops.push({ op: 'link', path: rel, inode, dir: false });
    } else {
      inode = this.inodeOf(rel);
      if ((this.sizes.get(inode) ?? 0) > 0) this.ops.push({ op: 'truncate', inode, size: 0 });
    }
    const data = Buffer.from(content);
    this.sizes.set(inode, data.length);
    if (data.length > 0) this.ops.push({ op: 'write', inode, offset: 0, data });
  }

  overwriteSync(path: string, content: string, bytesBefore: number): void {
    const inode = this.inodeOf(this.rel(path));
    const before = this.sizes.get(inode) ?? 0;
    nodeSyncCalls.overwriteSync(path, content, bytesBefore);
    const data = Buffer.from(content);
    if (data.length > 0) this.ops.push({ op: 'write', inode, offset: 0, data });
    if (before > data.length) this.ops.push({ op: 'truncate', inode, size: data.length });
    this.sizes.set(inode, data.length);
  }

  linkSync(existing: string, newPath: string): void {
    nodeSyncCalls.linkSync(existing, newPath);
    const inode = this.inodeOf(this.rel(existing));
    this.names.set(this.rel(newPath), inode);
    this.ops.push({ op: 'hardlink', path: this.rel(newPath), inode });
  }

  async writeUnsynced(
    writes: readonly UnsyncedWrite[],
    spares: SparePool | null,
    quarantineDir: string | null = null,
  ): Promise<SetAside[]> {
    return applyUnsyncedWrites(writes, this, this.poolOf(spares), quarantineDir);
  }

  renameSync(from: string, to: string): void {
    nodeSyncCalls.renameSync(from, to);
    this.renamed(from, to);
  }

  unlinkSync(path: string): void {
    nodeSyncCalls.unlinkSync(path);
    this.forget(this.rel(path));
  }

  async rename(from: string, to: string): Promise<void> {
    await nodeFileSystem.rename(from, to);
    this.renamed(from, to);
  }

  private renamed(from: string, to: string): void {
    const [source, target] = [this.rel(from), this.rel(to)];
    const inode = this.inodeOf(source);
    this.names.delete(source);
    this.names.set(target, inode);
    this.ops.push({ op: 'rename', from: source, to: target });
  }

  async unlink(path: string): Promise<void> {
    await nodeFileSystem.unlink(path);
    this.forget(this.rel(path));
  }

  async rm(path: string, options?: { force?: boolean }): Promise<void> {
    const existed = existsSync(path);
    await nodeFileSystem.rm(path, options);
    if (existed) this.forget(this.rel(path));
  }

  private forget(path: RelPath): void {
    this.names.delete(path);
    this.ops.push({ op: 'unlink', path });
  }

  async mkdir(path: string, options: { recursive: true }): Promise<unknown> {
    const missing: string[] = [];
    for (let at = path; !existsSync(at); at = dirname(at)) missing.unshift(at);
    const made = await nodeFileSystem.mkdir(path, options);
    for (const dir of missing) {
      const rel = this.rel(dir);
      const inode = this.nextInode++;
      this.names.set(rel, inode);
      this.dirInodes.set(rel, inode);
      this.ops.push({ op: 'link', path: rel, inode, dir: true });
    }
    return made;
  }
}
