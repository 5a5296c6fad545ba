import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The `Host` section of local.settings.json, as `func start` reads it. */
const HostSectionSchema = z.object({
  LocalHttpPort: z.number().int().min(0).max(65535).optional(),
  CORS: z.string().optional(),
  CORSCredentials: z.boolean().optional(),
});
export type HostSection = z.infer<typeof HostSectionSchema>;

/**
 * The `Values` and `Host` of local.settings.json, falling back to local.settings.sample.json (whose
 * values work with the local emulators), as `func start` loads them.
 */
export async function readLocalSettings(
  root: string,
): Promise<{ file: string; values: Record<string, string>; host: HostSection }> {
  for (const name of ['local.settings.json', 'local.settings.sample.json']) {
    const file = join(root, name);
    if (!existsSync(file)) continue;
    const json = JSON.parse(await readFile(file, 'utf8')) as {
      Values?: Record<string, unknown>;
      Host?: unknown;
    };
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(json.Values ?? {})) values[key] = String(value);
    const host = HostSectionSchema.safeParse(json.Host ?? {});
    if (!host.success) {
      const issue = host.error.issues[0]!;
      throw new Error(`${name}: Host.${issue.path.join('.')}: ${issue.message}`);
    }
    return { file, values, host: host.data };
  }
  return { file: '', values: {}, host: {} };
}

/** Resolves `%SETTING%` binding expressions against app settings, as the host does. */
export function bindingResolver(env: NodeJS.ProcessEnv): (value: string) => string {
  return (value) =>
    value.replace(/%([^%]+)%/g, (_, name: string) => {
      const resolved = env[name];
      if (resolved === undefined)
        throw new Error(`Binding expression %${name}% names an app setting that is not set`);
      return resolved;
    });
}
