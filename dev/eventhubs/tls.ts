/**
 * The certificate of the TLS listener: self-signed for `localhost`, 127.0.0.1 and ::1, generated once
 * and kept (so a client that was given `cert.pem` keeps trusting it across restarts), or generated in
 * memory when there is no folder to keep it in.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

export interface TlsCertificate {
  cert: string;
  key: string;
  /** Where `cert` is kept, for clients to trust it (`connection_verify`, `NODE_EXTRA_CA_CERTS`); absent in memory. */
  certPath?: string;
}

const validDays = 3650;
/** A certificate closer than this to its end is replaced at start. */
const renewBeforeMs = 7 * 24 * 3600 * 1000;

async function generate(): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + validDays * 24 * 3600 * 1000),
    extensions: [
      // Self-signed: clients use it as its own trust anchor, which OpenSSL wants marked as a CA.
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

function usable(cert: string, key: string, now: number): boolean {
  try {
    const x = new X509Certificate(cert);
    return (
      Date.parse(x.validTo) - now > renewBeforeMs &&
      Date.parse(x.validFrom) <= now &&
      x.checkPrivateKey(createPrivateKey(key))
    );
  } catch {
    return false;
  }
}

/** `<dir>/cert.pem` and `<dir>/key.pem`, created when missing, unreadable, not a pair or about to expire. */
export async function loadCertificate(dir: string | undefined, now = Date.now()): Promise<TlsCertificate> {
  if (dir === undefined) return generate();
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    if (usable(cert, key, now)) return { cert, key, certPath };
  }
  const fresh = await generate();
  await mkdir(dir, { recursive: true });
  await writeFile(keyPath, fresh.key, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, fresh.cert);
  return { ...fresh, certPath };
}
