import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/stack.js';

// No Bicep compiler runs here (it is a downloaded binary), so this reads the templates: the CORS
// origins must flow from main.bicep's parameter into the app's siteConfig.cors.
const read = (file: string) => readFile(join(root, 'bicep', file), 'utf8');
const flat = (text: string) => text.replace(/\s+/g, ' ');

describe('the Bicep CORS parameter', () => {
  it('main.bicep takes corsAllowedOrigins (default none) and hands it to the function app module', async () => {
    const main = flat(await read('main.bicep'));
    expect(main).toContain('param corsAllowedOrigins array = []');
    expect(main).toMatch(
      /module functionApp 'modules\/functionapp\.bicep' = \{.*corsAllowedOrigins: corsAllowedOrigins/,
    );
  });

  it('the function app puts the origins in siteConfig.cors, without credentials', async () => {
    const app = flat(await read('modules/functionapp.bicep'));
    expect(app).toContain('param corsAllowedOrigins array');
    expect(app).toMatch(
      /siteConfig: \{[^}]*cors: \{ allowedOrigins: corsAllowedOrigins, supportCredentials: false \}/,
    );
  });
});
