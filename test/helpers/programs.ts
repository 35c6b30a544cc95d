import fs from 'node:fs';

/**
 * A test that needs a system program says so: outside CI it is skipped with the reason;
 * with CI=true a missing program fails the test, so a broken install cannot pass silently.
 */
export function requireProgram(path: string, apt: string): { skip: string } | { skip?: undefined } {
  if (fs.existsSync(path)) return {};
  const message = `${path} is missing (apt-get install ${apt})`;
  if (process.env.CI === 'true') throw new Error(message);
  return { skip: message };
}
