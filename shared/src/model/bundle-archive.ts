/**
 * A model bundle as one file, for delivering it to a fleet: a gzipped JSON of the bundle folder's
 * files (bundle.sig among them when signed). Small enough for a retained MQTT message (the default
 * detector's is about 15 KB) or a file on any HTTPS server.
 *
 * Unpacking checks what a stranger could send: a bounded size before and after gunzip, a bounded
 * number of files, and plain file names only (no path, no "..", no hidden files), so an archive can
 * never write outside the folder it is unpacked into.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const ARCHIVE_FORMAT = 'vigil-bundle-archive';
const MAX_ARCHIVE_BYTES = 8 * 1024 * 1024;
const MAX_UNPACKED_BYTES = 32 * 1024 * 1024;
const MAX_FILES = 16;
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

interface Archive {
  format: typeof ARCHIVE_FORMAT;
  files: Record<string, string>;
}

export async function packBundle(dir: string): Promise<Buffer> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) files[entry.name] = (await readFile(join(dir, entry.name))).toString('base64');
  }
  return gzipSync(Buffer.from(JSON.stringify({ format: ARCHIVE_FORMAT, files } satisfies Archive)), { level: 9 });
}

/** Unpacks into `dir` (made anew), or throws one line saying what is wrong with the archive. */
export async function unpackBundle(archive: Buffer, dir: string): Promise<void> {
  if (archive.length > MAX_ARCHIVE_BYTES) throw new Error(`archive larger than ${MAX_ARCHIVE_BYTES} bytes`);
  let parsed: Archive;
  try {
    parsed = JSON.parse(gunzipSync(archive, { maxOutputLength: MAX_UNPACKED_BYTES }).toString('utf8')) as Archive;
  } catch (error) {
    throw new Error(`not a bundle archive (${error instanceof Error ? error.message : String(error)})`);
  }
  if (parsed?.format !== ARCHIVE_FORMAT || typeof parsed.files !== 'object' || parsed.files === null) throw new Error('not a bundle archive (no format or files)');
  const names = Object.keys(parsed.files);
  if (names.length === 0 || names.length > MAX_FILES) throw new Error(`an archive holds 1-${MAX_FILES} files, this one ${names.length}`);
  const bad = names.find((name) => !PLAIN_NAME.test(name) || typeof parsed.files[name] !== 'string');
  if (bad !== undefined) throw new Error(`file name ${JSON.stringify(bad.slice(0, 40))} is not a plain file name`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const name of names) await writeFile(join(dir, name), Buffer.from(parsed.files[name] as string, 'base64'));
}
