/**
 * Channel maps (Modbus registers, OPC UA node ids, CSV columns) from a small file beside the
 * settings: JSON, or YAML when the name ends in .yaml or .yml. Read once at start; the caller
 * checks what the file holds and lists every problem with it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Parses the file, or throws one line naming the setting, the file and what is wrong. */
export function readMapFile(path: string, setting: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`${setting}: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? String(error))})`);
  }
  if (/\.ya?ml$/i.test(path)) {
    // Loaded only for a YAML map: a reader configured without one never pays for the parser.
    const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    const document = yaml.parseDocument(text);
    const [first] = document.errors;
    if (first) throw new Error(`${setting}: ${path} is not valid YAML (${first.message.split('\n')[0] ?? ''})`);
    return document.toJS() as unknown;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${setting}: ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}); name it .yaml or .yml for YAML`);
  }
}

/** A CSV column map from a file: an object of column name → channel name, every problem listed. */
export function checkColumnMap(parsed: unknown): Record<string, string> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('CSV column map must be an object of "<column>": "<channel>"');
  const problems: string[] = [];
  const map: Record<string, string> = {};
  for (const [column, channel] of Object.entries(parsed)) {
    if (typeof channel !== 'string' || channel.trim() === '') problems.push(`column "${column}": its channel must be a name`);
    // Defined, not assigned: a column called __proto__ stays a column.
    else Object.defineProperty(map, column, { value: channel.trim(), enumerable: true, writable: true, configurable: true });
  }
  if (Object.keys(parsed).length === 0) problems.push('CSV column map is empty');
  if (problems.length > 0) throw new Error(problems.join('; '));
  return map;
}
