import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEndpoint, startEventHubs } from '../../../dev/eventhubs/index.js';
import { loadCertificate } from '../../../dev/eventhubs/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'eventhubs-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the TLS listener certificate', () => {
  it('is generated at first start for localhost, 127.0.0.1 and ::1, and kept', async () => {
    const first = await loadCertificate(dir);
    expect(first.certPath).toBe(join(dir, 'cert.pem'));
    const x = new X509Certificate(first.cert);
    expect(x.subject).toBe('CN=localhost');
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x.issuer).toBe(x.subject);
    expect(x.ca).toBe(true);
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    const again = await loadCertificate(dir);
    expect(again).toEqual(first);
  });

  it('is replaced when it is about to expire or does not match its key', async () => {
    const kept = await loadCertificate(dir);
    const validTo = Date.parse(new X509Certificate(kept.cert).validTo);
    const renewed = await loadCertificate(dir, validTo - 24 * 3600 * 1000);
    expect(renewed.cert).not.toBe(kept.cert);
    expect(renewed.key).not.toBe(kept.key);
    writeFileSync(join(dir, 'cert.pem'), kept.cert);
    const matched = await loadCertificate(dir);
    expect(matched.cert).not.toBe(kept.cert);
    expect(new X509Certificate(matched.cert).checkPrivateKey(createPrivateKey(matched.key))).toBe(true);
  });
});

describe('what npm start prints', () => {
  it('both connection strings and where the certificate is, for a client to trust it', async () => {
    const eh = await startEventHubs({ port: 0, tlsPort: 0, dataDir: join(dir, 'eventhubs'), hubs: [] });
    try {
      const cs = (port: number) =>
        `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE`;
      const cert = join('eventhubs', 'tls', 'cert.pem');
      expect(describeEndpoint(eh, dir)).toEqual([
        `${cs(eh.port)};UseDevelopmentEmulator=true`,
        `TLS: ${cs(eh.tls!.port)}`,
        `TLS certificate: ${cert}  (self-signed; Python: connection_verify='${cert}', Node: NODE_EXTRA_CA_CERTS=${cert})`,
      ]);
      expect(eh.tls!.certPath).toBe(join(dir, cert));
    } finally {
      await eh.stop();
    }
  });
});
