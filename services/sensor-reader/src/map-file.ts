/**
 * The reader's channel maps (Modbus registers, OPC UA node ids, CSV columns), read from a file by
 * readSettingsFile; here is what each must hold, every problem listed.
 */
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
