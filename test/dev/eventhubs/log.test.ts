import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea from 'rhea';
import { afterAll, describe, expect, it } from 'vitest';
import { PartitionLog } from '../../../dev/eventhubs/log.js';
import {
  batchMessageFormat,
  runtimeInfoAnnotations,
  unpackTransfer,
  withDeliveryAnnotations,
} from '../../../dev/eventhubs/message.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'eventhubs-log-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const encode = (m: rhea.Message) => rhea.message.encode(m) as unknown as Buffer;
const options = { retentionMs: 7 * 24 * 3600 * 1000, retentionBytes: Number.MAX_SAFE_INTEGER };

function bodies(log: PartitionLog): unknown[] {
  const out: unknown[] = [];
  for (let s = log.firstSeq; s < log.nextSeq; s++) out.push(rhea.message.decode(log.get(s).bytes).body);
  return out;
}

describe('PartitionLog', () => {
  it('stamps broker annotations and keeps the sender sections', () => {
    const log = new PartitionLog(options);
    const raw = encode({
      message_id: 'm1',
      content_type: 'text/plain',
      application_properties: { a: 1 },
      message_annotations: { 'x-custom': 'keep', 'x-opt-sequence-number': 99 },
      body: 'hello',
    });
    log.append([{ raw, partitionKey: 'pk' }], 1_700_000_000_000);
    const ev = log.get(0);
    const m = rhea.message.decode(ev.bytes);
    expect(m.body).toBe('hello');
    expect(m.message_id).toBe('m1');
    expect(m.content_type).toBe('text/plain');
    expect(m.application_properties).toEqual({ a: 1 });
    expect(m.message_annotations).toEqual({
      'x-opt-sequence-number': 0,
      'x-opt-offset': '0',
      'x-opt-enqueued-time': new Date(1_700_000_000_000),
      'x-opt-partition-key': 'pk',
      'x-custom': 'keep',
    });
    const withInfo = rhea.message.decode(
      withDeliveryAnnotations(
        ev,
        runtimeInfoAnnotations({
          lastSequenceNumber: 0,
          lastOffset: 0,
          lastEnqueuedTime: 5,
          retrievalTime: 6,
        }),
      ),
    );
    expect(withInfo.delivery_annotations).toEqual({
      last_enqueued_sequence_number: 0,
      last_enqueued_offset: '0',
      last_enqueued_time_utc: new Date(5),
      runtime_info_retrieval_time_utc: new Date(6),
    });
    expect(withInfo.body).toBe('hello');
  });

  it('unpacks the batch format into its events and partition key', () => {
    const inner = [encode({ body: 'a' }), encode({ body: 'b' })];
    const envelope = encode({
      message_annotations: { 'x-opt-partition-key': 'k1' },
      body: rhea.message.data_sections(inner),
    } as rhea.Message);
    const u = unpackTransfer(envelope, batchMessageFormat);
    expect(u.partitionKey).toBe('k1');
    expect(u.messages.map((m) => rhea.message.decode(m).body)).toEqual(['a', 'b']);
  });

  it('finds positions by offset and time', () => {
    const log = new PartitionLog(options);
    log.append([{ raw: encode({ body: 0 }), partitionKey: undefined }], 1000);
    log.append([{ raw: encode({ body: 1 }), partitionKey: undefined }], 2000);
    log.append([{ raw: encode({ body: 2 }), partitionKey: undefined }], 2000);
    const o1 = log.get(1).offset;
    expect(log.seqAfterOffset(-1, false)).toBe(0);
    expect(log.seqAfterOffset(o1, false)).toBe(2);
    expect(log.seqAfterOffset(o1, true)).toBe(1);
    expect(log.seqAfterTime(1000, false)).toBe(1);
    expect(log.seqAfterTime(2000, false)).toBe(3);
    expect(log.seqAfterTime(2000, true)).toBe(1);
  });

  it('reads evicted events back from disk, across segments and restarts', () => {
    const dir = tempDir();
    const opts = { ...options, dir, segmentBytes: 600, cacheBytes: 500 };
    const log = new PartitionLog(opts);
    for (let i = 0; i < 30; i++) log.append([{ raw: encode({ body: `e${i}` }), partitionKey: undefined }]);
    log.flush();
    expect(readdirSync(dir).length).toBeGreaterThan(3);
    expect(bodies(log)).toEqual(Array.from({ length: 30 }, (_, i) => `e${i}`));
    const offsets = Array.from({ length: 30 }, (_, i) => log.get(i).offset);
    log.close();

    const again = new PartitionLog(opts);
    expect([again.firstSeq, again.nextSeq]).toEqual([0, 30]);
    expect(Array.from({ length: 30 }, (_, i) => again.get(i).offset)).toEqual(offsets);
    again.append([{ raw: encode({ body: 'e30' }), partitionKey: undefined }]);
    again.close();
    const third = new PartitionLog(opts);
    expect(bodies(third)).toEqual(Array.from({ length: 31 }, (_, i) => `e${i}`));
    third.close();
  });

  it('cuts a corrupt tail (bad checksum) and a torn header', () => {
    const dir = tempDir();
    const log = new PartitionLog({ ...options, dir });
    log.append([0, 1, 2].map((i) => ({ raw: encode({ body: i }), partitionKey: undefined })));
    log.close();
    const seg = join(dir, readdirSync(dir)[0]!);
    const size = statSync(seg).size;
    // Flip a byte inside the last record's payload.
    const bytes = readFileSync(seg);
    bytes[size - 2] = bytes[size - 2]! ^ 0xff;
    writeFileSync(seg, bytes);
    appendFileSync(seg, Buffer.from([1, 2, 3]));
    const again = new PartitionLog({ ...options, dir });
    expect(bodies(again)).toEqual([0, 1]);
    again.append([{ raw: encode({ body: 'new' }), partitionKey: undefined }]);
    again.close();
    const third = new PartitionLog({ ...options, dir });
    expect(bodies(third)).toEqual([0, 1, 'new']);
    expect(third.lastSeq).toBe(2);
    third.close();
  });
});
