/**
 * What a power cut could leave on the disk, from a recorded trace
 * (recording-file-system.ts). Replaying the trace up to a point gives two
 * views of every file and directory: what the process saw (the page cache)
 * and what is durable (what a completed fsync covered: the file's bytes as
 * they were when the fsync started; a directory's names likewise). A crash
 * state mixes them under one of these models:
 *
 *   lost     every unsynced byte is lost: each file holds its durable bytes;
 *            names are as the process left them (the journal of the file
 *            system kept them).
 *   pages    unsynced data is kept in part: each 4 KiB page written since the
 *            last fsync is either new or old, independently (any order), and
 *            the size is the old one or the new one.
 *   names    the bytes of `lost`, and in each directory only a prefix of the
 *            creates, renames and unlinks since its last fsync survives (the
 *            rest are undone, in reverse order, as a file system's metadata
 *            journal would): from none of them to all.
 *
 * Not modelled: reordering of metadata operations inside one directory
 * (ext4, XFS and btrfs commit them in order), corruption of synced data, a
 * write torn inside a page, a file system that lies about fsync.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RelPath, Trace } from './recording-file-system.js';

export const PAGE = 4096;
export type CrashModel = 'lost' | 'pages' | 'names';

interface Inode {
  dir: boolean;
  data: Buffer;
  durable: Buffer;
}

type NameOp =
  | { kind: 'link'; name: string; inode: number }
  | { kind: 'unlink'; name: string }
  /** Within one directory a rename is one change: a crash leaves the old name or the new. */
  | { kind: 'rename'; from: string; to: string; inode: number };

interface Dir {
  entries: Map<string, number>;
  durable: Map<string, number>;
  /** Name changes since the last fsync of the directory, oldest first. */
  pending: NameOp[];
}

function split(path: RelPath): [RelPath, string] {
  const at = path.lastIndexOf('/');
  return at === -1 ? ['', path] : [path.slice(0, at), path.slice(at + 1)];
}

/** The disk as the trace left it after `count` operations: both views. */
export class DiskModel {
  readonly inodes = new Map<number, Inode>();
  readonly dirs = new Map<number, Dir>();
  private readonly dirByPath = new Map<RelPath, number>();
  private readonly syncs = new Map<number, () => void>();

  constructor(trace: Trace, count: number) {
    this.addDir('', 0);
    for (const path of trace.initial.dirs) {
      const inode = trace.dirInodes.get(path) as number;
      this.addDir(path, inode);
      this.linkDurably(path, inode);
    }
    for (const file of trace.initial.files) {
      this.inodes.set(file.inode, { dir: false, data: file.data, durable: file.data });
      this.linkDurably(file.path, file.inode);
    }
    for (const op of trace.ops.slice(0, count)) this.apply(op);
  }

  private addDir(path: RelPath, inode: number): void {
    this.inodes.set(inode, { dir: true, data: Buffer.alloc(0), durable: Buffer.alloc(0) });
    this.dirs.set(inode, { entries: new Map(), durable: new Map(), pending: [] });
    this.dirByPath.set(path, inode);
  }

  private dirOf(path: RelPath): Dir {
    const inode = this.dirByPath.get(split(path)[0]);
    const dir = inode === undefined ? undefined : this.dirs.get(inode);
    if (dir === undefined) throw new Error(`no directory for ${path}`);
    return dir;
  }

  private linkDurably(path: RelPath, inode: number): void {
    const dir = this.dirOf(path);
    dir.entries.set(split(path)[1], inode);
    dir.durable.set(split(path)[1], inode);
  }

  private link(path: RelPath, inode: number): void {
    const dir = this.dirOf(path);
    const name = split(path)[1];
    dir.entries.set(name, inode);
    dir.pending.push({ kind: 'link', name, inode });
  }

  private unlink(path: RelPath): number {
    const dir = this.dirOf(path);
    const name = split(path)[1];
    const inode = dir.entries.get(name);
    if (inode === undefined) throw new Error(`unlink of ${path}, which is not there`);
    dir.entries.delete(name);
    dir.pending.push({ kind: 'unlink', name });
    return inode;
  }

  private apply(op: Trace['ops'][number]): void {
    switch (op.op) {
      case 'link':
        if (op.dir) this.addDir(op.path, op.inode);
        else
          this.inodes.set(op.inode, {
            dir: false,
            data: Buffer.alloc(0),
            durable: Buffer.alloc(0),
          });
        this.link(op.path, op.inode);
        return;
      case 'hardlink':
        this.link(op.path, op.inode);
        return;
      case 'unlink':
        this.unlink(op.path);
        return;
      case 'rename': {
        const [fromDir, from] = split(op.from);
        const [toDir, to] = split(op.to);
        const inode = this.dirOf(op.from).entries.get(from);
        if (inode === undefined) throw new Error(`rename of ${op.from}, which is not there`);
        if (this.dirs.has(inode))
          throw new Error(`renaming a directory (${op.from}) is not modelled`);
        if (fromDir === toDir) {
          const dir = this.dirOf(op.from);
          dir.entries.delete(from);
          dir.entries.set(to, inode);
          dir.pending.push({ kind: 'rename', from, to, inode });
        } else {
          // Across directories: the two halves are followed apart (an over-approximation).
          this.unlink(op.from);
          this.link(op.to, inode);
        }
        return;
      }
      case 'write': {
        const file = this.inodes.get(op.inode) as Inode;
        const end = op.offset + op.data.length;
        const data = Buffer.alloc(Math.max(file.data.length, end));
        file.data.copy(data);
        op.data.copy(data, op.offset);
        file.data = data;
        return;
      }
      case 'truncate': {
        const file = this.inodes.get(op.inode) as Inode;
        const data = Buffer.alloc(op.size);
        file.data.copy(data, 0, 0, Math.min(op.size, file.data.length));
        file.data = data;
        return;
      }
      case 'sync-start': {
        if (op.dir !== null) {
          const dir = this.dirs.get(this.dirByPath.get(op.dir) as number) as Dir;
          const covered = dir.pending.length;
          this.syncs.set(op.id, () => {
            for (const change of dir.pending.splice(0, covered)) applyName(dir.durable, change);
          });
        } else {
          const file = this.inodes.get(op.inode) as Inode;
          const snapshot = file.data;
          this.syncs.set(op.id, () => {
            file.durable = snapshot;
          });
        }
        return;
      }
      case 'sync-end':
        this.syncs.get(op.id)?.();
        this.syncs.delete(op.id);
        return;
      case 'ack':
        return;
    }
  }

  /** The crash state under `model`, written into `target` (an empty directory). */
  materialize(target: string, model: CrashModel, random: () => number): void {
    const contents = new Map<number, Buffer>();
    const content = (inode: number): Buffer => {
      let data = contents.get(inode);
      if (data === undefined) {
        const file = this.inodes.get(inode) as Inode;
        data = model === 'pages' ? somePages(file, random) : file.durable;
        contents.set(inode, data);
      }
      return data;
    };
    const names = (dir: Dir): Map<string, number> => {
      if (model !== 'names') return dir.entries;
      const kept = Math.floor(random() * (dir.pending.length + 1));
      const entries = new Map(dir.durable);
      for (const change of dir.pending.slice(0, kept)) applyName(entries, change);
      return entries;
    };
    const write = (inode: number, path: string) => {
      const dir = this.dirs.get(inode) as Dir;
      mkdirSync(path, { recursive: true });
      for (const [name, child] of names(dir)) {
        if (this.dirs.has(child)) write(child, join(path, name));
        else writeFileSync(join(path, name), content(child));
      }
    };
    write(0, target);
  }

  /** Whether a crash here could leave anything but what the process saw. */
  hasUnsynced(): boolean {
    for (const file of this.inodes.values())
      if (!file.dir && !file.data.equals(file.durable)) return true;
    for (const dir of this.dirs.values()) if (dir.pending.length > 0) return true;
    return false;
  }
}

function applyName(entries: Map<string, number>, change: NameOp): void {
  if (change.kind === 'link') entries.set(change.name, change.inode);
  else if (change.kind === 'unlink') entries.delete(change.name);
  else {
    entries.delete(change.from);
    entries.set(change.to, change.inode);
  }
}

/** The durable bytes with some of the pages written since overlaid, and either size. */
function somePages(file: Inode, random: () => number): Buffer {
  const size = random() < 0.5 ? file.durable.length : file.data.length;
  const result = Buffer.alloc(size);
  file.durable.copy(result, 0, 0, Math.min(size, file.durable.length));
  for (let start = 0; start < size; start += PAGE) {
    const end = Math.min(start + PAGE, size);
    const old = file.durable.subarray(start, Math.min(end, file.durable.length));
    const now = file.data.subarray(start, Math.min(end, file.data.length));
    if (old.equals(now) || random() < 0.5) continue;
    result.fill(0, start, end);
    now.copy(result, start);
  }
  return result;
}
