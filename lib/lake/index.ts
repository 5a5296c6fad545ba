import type { ContainerClient } from '@azure/storage-blob';
import { isStatus } from '../clients/errors.js';

/**
 * The data lake as the app uses it: immutable files addressed by path. Implemented on the Blob
 * API, which both Azurite and an ADLS Gen2 account (hierarchical namespace) accept, so the same
 * code runs locally and in Azure.
 */
export interface LakeFile {
  path: string;
  bytes: number;
}

export interface PutOptions {
  contentType?: string;
  contentEncoding?: string;
  /** Fail with `exists` instead of overwriting (create-if-absent). */
  ifAbsent?: boolean;
}

export interface Lake {
  /** Writes the whole file in one request, so readers see all of it or nothing. */
  put(path: string, body: Buffer, options?: PutOptions): Promise<'written' | 'exists'>;
  get(path: string): Promise<Buffer | undefined>;
  exists(path: string): Promise<boolean>;
  list(prefix: string): AsyncIterable<LakeFile>;
  delete(path: string): Promise<void>;
  /** Copies a file within the lake (server side); resolves `missing` when `from` does not exist. */
  copy(from: string, to: string): Promise<'copied' | 'missing'>;
}

export class LakeError extends Error {
  constructor(
    readonly code: 'LAKE_WRITE_FAILED' | 'LAKE_READ_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LakeError';
  }
}

export function blobLake(container: ContainerClient): Lake {
  return {
    async put(path, body, options = {}) {
      try {
        await container.getBlockBlobClient(path).upload(body, body.length, {
          blobHTTPHeaders: {
            blobContentType: options.contentType,
            blobContentEncoding: options.contentEncoding,
          },
          conditions: options.ifAbsent ? { ifNoneMatch: '*' } : undefined,
        });
        return 'written';
      } catch (err) {
        if (options.ifAbsent && isStatus(err, 409, 412)) return 'exists';
        throw new LakeError(
          'LAKE_WRITE_FAILED',
          `Could not write ${path} to the lake: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
    async get(path) {
      try {
        return await container.getBlobClient(path).downloadToBuffer();
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw new LakeError('LAKE_READ_FAILED', `Could not read ${path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async exists(path) {
      return container.getBlobClient(path).exists();
    },
    async *list(prefix) {
      for await (const blob of container.listBlobsFlat({ prefix, includeMetadata: true })) {
        // On an account with a hierarchical namespace (ADLS Gen2) folders show up as empty blobs.
        if (blob.metadata?.hdi_isfolder === 'true') continue;
        yield { path: blob.name, bytes: blob.properties.contentLength ?? 0 };
      }
    },
    async delete(path) {
      await container.getBlobClient(path).deleteIfExists();
    },
    async copy(from, to) {
      try {
        // Copy Blob within one account is authorised by this request's own credentials.
        const poller = await container.getBlobClient(to).beginCopyFromURL(container.getBlobClient(from).url);
        await poller.pollUntilDone();
        return 'copied';
      } catch (err) {
        if (isStatus(err, 404)) return 'missing';
        throw new LakeError(
          'LAKE_WRITE_FAILED',
          `Could not copy ${from} to ${to}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
  };
}
