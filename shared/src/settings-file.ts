/**
 * Small settings files beside the settings (the reader's channel maps, the assets file): JSON, or
 * YAML when the name ends in .yaml or .yml. Read once at start; the caller checks what the file
 * holds. A service that reads one declares `yaml` among its dependencies (it stays outside the
 * bundle, loaded only for a YAML file).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Parses the file, or throws one line naming the setting, the file and what is wrong. */
export function readSettingsFile(path: string, setting: string): unknown {
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

