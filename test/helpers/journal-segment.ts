/**
 * Journal segments as a kill or a power cut leaves them. A segment ends in
 * zeros written ahead of its records (see AppendFile.create), so a later
 * append lands where the records end, over those zeros, not at the file's end.
 */
import { open, readFile } from 'node:fs/promises';

/** The segment's bytes up to the zeros written ahead of its records. */
export async function segmentRecords(path: string): Promise<Buffer> {
  const content = await readFile(path);
  let end = content.length;
  while (end > 0 && content[end - 1] === 0) end--;
  return content.subarray(0, end);
}

/** Writes `data` where the segment's records end, as a later append would. */
export async function writeAtRecordsEnd(path: string, data: string | Buffer): Promise<void> {
  const end = (await segmentRecords(path)).length;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const handle = await open(path, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, end);
  } finally {
    await handle.close();
  }
}
