/**
 * `npm run lake -- sync <dir> [--prefix curated/]`: copies the local lake (Azurite's `lake`
 * container, from local.settings.json or the sample) into a folder, so DuckDB, Spark or pandas
 * read it as files. A file already there with the blob's size and time is skipped (a rerun's
 * rewritten Parquet has a new time, so it is copied again); nothing is deleted.
 */
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { readLocalSettings } from './host/settings.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { prefix: { type: 'string', default: '' } },
});
const [command, target] = positionals;
if (command !== 'sync' || !target) {
  console.error('Usage: npm run lake -- sync <dir> [--prefix curated/]');
  process.exit(2);
}

const { values: settings } = await readLocalSettings(root);
const connection = process.env.TelemetryLake ?? settings.TelemetryLake;
const filesystem = process.env.LAKE_FILESYSTEM ?? settings.LAKE_FILESYSTEM ?? 'lake';
if (!connection?.includes('UseDevelopmentStorage=true') && !connection?.includes('AccountKey=')) {
  console.error(
    'TelemetryLake is not a connection string: in Azure read the lake with abfss:// (see the README, "Reading the lake").',
  );
  process.exit(2);
}
const container = BlobServiceClient.fromConnectionString(connection).getContainerClient(filesystem);
const dir = resolve(target);
let copied = 0;
let skipped = 0;
try {
  for await (const blob of container.listBlobsFlat({ prefix: values.prefix })) {
    const local = join(dir, blob.name);
    const size = blob.properties.contentLength ?? 0;
    const modified = blob.properties.lastModified;
    const existing = await stat(local).catch(() => undefined);
    if (
      existing?.size === size &&
      Math.trunc(existing.mtimeMs / 1000) === Math.trunc(modified.getTime() / 1000)
    ) {
      skipped++;
      continue;
    }
    await mkdir(dirname(local), { recursive: true });
    await writeFile(local, await container.getBlobClient(blob.name).downloadToBuffer());
    await utimes(local, modified, modified);
    copied++;
  }
} catch (err) {
  console.error(`Could not read the lake (is npm start running?): ${(err as Error).message.split('\n')[0]}`);
  process.exit(1);
}
console.log(`${copied} files copied, ${skipped} already there, into ${dir}`);
console.log(
  `Try: duckdb -c "SELECT name, count(*) FROM read_parquet('${dir}/curated/events/**/*.parquet', hive_partitioning = true) GROUP BY name"`,
);
