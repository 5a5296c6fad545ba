import type { ContainerClient } from '@azure/storage-blob';
import { Cron } from 'croner';
import { isStatus } from '../../lib/clients/errors.js';
import type { Registration } from './core.js';
import { invokeWithRetry, triggerBinding } from './invoke.js';
import type { Logger } from './log.js';
import { sleep } from './retry.js';

/** How late a tick may fire before the host calls it past due. */
const pastDueToleranceMs = 1000;

export interface TimerTriggerOptions {
  logger: Logger;
  /** Where schedule status is kept, like the host's `azure-webjobs-hosts/timers/...` blobs. */
  statusContainer: ContainerClient;
  hostId: string;
  resolve: (value: string) => string;
  now?: () => Date;
}

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

/**
 * Runs timer-triggered functions on their NCRONTAB schedule ({second} {minute} {hour} {day}
 * {month} {day-of-week}, UTC), one invocation at a time per function, with runOnStartup,
 * isPastDue for late or missed occurrences (remembered across restarts) and the retry policy.
 */
export function startTimerTriggers(registrations: readonly Registration[], options: TimerTriggerOptions) {
  const abort = new AbortController();
  const now = options.now ?? (() => new Date());
  const loops = registrations.map((registration) =>
    run(registration).catch((err) => {
      options.logger.error(`Timer ${registration.metadata.name} stopped:`, err);
    }),
  );

  async function run(registration: Registration): Promise<void> {
    const name = registration.metadata.name;
    const trigger = triggerBinding(registration);
    const schedule = options.resolve(String(trigger.schedule));
    const cron = new Cron(schedule, { timezone: 'UTC', paused: true });
    const blob = options.statusContainer.getBlockBlobClient(`timers/${options.hostId}/${name}/status`);
    const status = await readStatus(blob);
    let last = status ? new Date(status.Last) : undefined;

    let statusWritten = false;
    const fire = async (scheduled: Date, isPastDue: boolean) => {
      const next = cron.nextRun(now()) ?? scheduled;
      const input = {
        isPastDue,
        schedule: { adjustForDST: false },
        scheduleStatus: {
          last: (last ?? new Date(0)).toISOString(),
          next: next.toISOString(),
          lastUpdated: now().toISOString(),
        },
      };
      await invokeWithRetry(registration, input, options.logger, { signal: abort.signal });
      last = scheduled;
      statusWritten = true;
      await writeStatus(blob, {
        Last: scheduled.toISOString(),
        Next: next.toISOString(),
        LastUpdated: now().toISOString(),
      });
    };

    if (status && new Date(status.Next).getTime() < now().getTime() - pastDueToleranceMs) {
      options.logger.info(
        `${name}: occurrence at ${status.Next} was missed while the host was down; running now`,
      );
      await fire(new Date(status.Next), true);
    } else if (trigger.runOnStartup) {
      await fire(now(), false);
    }
    while (!abort.signal.aborted) {
      const next = cron.nextRun(now());
      if (!next) return;
      // After a run, `fire` has just recorded this same Last/Next.
      if (!statusWritten) {
        await writeStatus(blob, {
          Last: (last ?? new Date(0)).toISOString(),
          Next: next.toISOString(),
          LastUpdated: now().toISOString(),
        });
      }
      statusWritten = false;
      await sleep(Math.max(0, next.getTime() - now().getTime()), abort.signal);
      if (abort.signal.aborted) return;
      await fire(next, now().getTime() - next.getTime() > pastDueToleranceMs);
    }
  }

  return {
    async stop(): Promise<void> {
      abort.abort();
      await Promise.all(loops);
    },
  };
}

async function readStatus(
  blob: ReturnType<ContainerClient['getBlockBlobClient']>,
): Promise<ScheduleStatus | undefined> {
  try {
    const buffer = await blob.downloadToBuffer();
    return JSON.parse(buffer.toString('utf8')) as ScheduleStatus;
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

/** Best effort, as in the host: a failed status write costs past-due detection, not the schedule. */
async function writeStatus(blob: ReturnType<ContainerClient['getBlockBlobClient']>, status: ScheduleStatus) {
  const body = JSON.stringify(status);
  await blob
    .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } })
    .catch(() => {});
}
