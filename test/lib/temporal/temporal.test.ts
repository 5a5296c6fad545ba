import { describe, expect, it } from 'vitest';
import {
  globalWatermark,
  isStateClosed,
  isStateId,
  nextStateId,
  stateEndMs,
  stateIdOf,
  statePartitionPath,
  stateRange,
  stateStartMs,
} from '../../../lib/temporal/index.js';

const t = (iso: string) => Date.parse(iso);

describe('temporal states', () => {
  it('maps a time to its UTC minute', () => {
    expect(stateIdOf(t('2026-11-22T10:07:59.999Z'))).toBe('202611221007');
    expect(stateStartMs('202611221007')).toBe(t('2026-11-22T10:07:00Z'));
    expect(stateEndMs('202611221007')).toBe(t('2026-11-22T10:08:00Z'));
  });
  it('steps across hour, day and year boundaries', () => {
    expect(nextStateId('202612312359')).toBe('202701010000');
    expect(stateRange('202611222358', '202611230001')).toEqual([
      '202611222358',
      '202611222359',
      '202611230000',
      '202611230001',
    ]);
  });
  it('validates ids', () => {
    expect(isStateId('202611221007')).toBe(true);
    expect(isStateId('202613221007')).toBe(false);
    expect(isStateId('2026112210')).toBe(false);
    expect(() => stateStartMs('nope')).toThrow("'nope' is not a temporal state id");
  });
  it('names the Hive partition folders', () => {
    expect(statePartitionPath('202611221007')).toBe('date=2026-11-22/hour=10/minute=07');
  });
});

describe('global watermark', () => {
  const now = t('2026-11-22T10:30:00Z');
  const busy = (id: string, last: number) => ({
    partitionId: id,
    isEmpty: false,
    lastEnqueuedSequenceNumber: last,
  });

  it('is the slowest partition that still has events to land', () => {
    const w = globalWatermark(
      [
        { partitionId: '0', sequenceNumber: 100, enqueuedTimeMs: t('2026-11-22T10:20:00Z') },
        { partitionId: '1', sequenceNumber: 50, enqueuedTimeMs: t('2026-11-22T10:10:30Z') },
      ],
      [busy('0', 120), busy('1', 60)],
      now,
    );
    expect(w.timeMs).toBe(t('2026-11-22T10:10:30Z'));
    expect(w.slowestPartition).toBe('1');
    expect(isStateClosed('202611221009', w)).toBe(true);
    expect(isStateClosed('202611221010', w)).toBe(false);
  });

  it('counts an idle partition (everything landed, or empty) as now, so it never stalls', () => {
    const w = globalWatermark(
      [
        { partitionId: '0', sequenceNumber: 100, enqueuedTimeMs: t('2026-11-22T08:00:00Z') },
        { partitionId: '1', sequenceNumber: 7, enqueuedTimeMs: t('2026-11-22T10:29:00Z') },
      ],
      [busy('0', 100), busy('1', 9), { partitionId: '2', isEmpty: true, lastEnqueuedSequenceNumber: -1 }],
      now,
    );
    expect(w.timeMs).toBe(t('2026-11-22T10:29:00Z'));
    expect(w.partitions.map((p) => p.caughtUp)).toEqual([true, false, true]);
  });

  it('holds at the beginning for a partition with events and nothing landed', () => {
    const w = globalWatermark([], [busy('0', 3)], now);
    expect(w.timeMs).toBe(0);
    expect(isStateClosed('202611221000', w)).toBe(false);
  });

  it('is now when every partition is caught up', () => {
    const w = globalWatermark(
      [{ partitionId: '0', sequenceNumber: 3, enqueuedTimeMs: 1 }],
      [busy('0', 3)],
      now,
    );
    expect(w).toEqual({
      timeMs: now,
      slowestPartition: undefined,
      partitions: [{ partitionId: '0', timeMs: now, caughtUp: true }],
    });
    expect(isStateClosed('202611221029', w)).toBe(true);
    expect(isStateClosed('202611221030', w)).toBe(false);
  });
});
