import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { blobLake, type Lake } from '../../../lib/lake/index.js';

let azurite: Azurite;
let container: ContainerClient;
let lake: Lake;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await container.create();
  lake = blobLake(container);
});
afterAll(async () => {
  await azurite?.stop();
});

describe('lake (Blob API)', () => {
  it('puts, gets, lists by prefix, checks and deletes files', async () => {
    expect(await lake.put('raw/tenant=a/x.ndjson.gz', Buffer.from('one'), { contentEncoding: 'gzip' })).toBe(
      'written',
    );
    await lake.put('raw/tenant=b/y.ndjson.gz', Buffer.from('two!'));
    expect((await lake.get('raw/tenant=a/x.ndjson.gz'))?.toString()).toBe('one');
    expect(await lake.get('raw/tenant=a/missing')).toBeUndefined();
    const listed = [];
    for await (const f of lake.list('raw/tenant=b/')) listed.push(f);
    expect(listed).toEqual([{ path: 'raw/tenant=b/y.ndjson.gz', bytes: 4 }]);
    expect(await lake.exists('raw/tenant=b/y.ndjson.gz')).toBe(true);
    await lake.delete('raw/tenant=b/y.ndjson.gz');
    await lake.delete('raw/tenant=b/y.ndjson.gz');
    expect(await lake.exists('raw/tenant=b/y.ndjson.gz')).toBe(false);
  });

  it('create-if-absent answers exists and keeps the first bytes', async () => {
    await lake.put('deadletter/a.json', Buffer.from('first'), { ifAbsent: true });
    expect(await lake.put('deadletter/a.json', Buffer.from('second'), { ifAbsent: true })).toBe('exists');
    expect((await lake.get('deadletter/a.json'))?.toString()).toBe('first');
  });

  it('leaves out the folder markers an ADLS Gen2 account lists as blobs', async () => {
    await container
      .getBlockBlobClient('curated/tenant=a')
      .upload('', 0, { metadata: { hdi_isfolder: 'true' } });
    await lake.put('curated/tenant=a/f.parquet', Buffer.from('p'));
    const listed = [];
    for await (const f of lake.list('curated/')) listed.push(f.path);
    expect(listed).toEqual(['curated/tenant=a/f.parquet']);
  });

  it('fails a write with a stable code and the path', async () => {
    const gone = blobLake(
      BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('nope'),
    );
    await expect(gone.put('raw/x', Buffer.from('x'))).rejects.toMatchObject({
      code: 'LAKE_WRITE_FAILED',
      message: expect.stringContaining('Could not write raw/x to the lake'),
    });
  });
});
