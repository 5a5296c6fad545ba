/**
 * `npm run bench:eventhubs`: throughput of the local Event Hubs endpoint through the SDK with 1 KiB events.
 * The server runs in its own process (as in the local stack), with its on-disk log in a temp folder.
 *
 *   BENCH_SECONDS   length of each phase (default 5)
 *   BENCH_MEMORY=1  keep events in memory instead of on disk
 *   BENCH_PROFILE_DIR  write a CPU profile of the server process there
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
} from '@azure/event-hubs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const eventSize = 1024;
const partitions = ['0', '1', '2', '3'];
const inFlightPerPartition = 2;
const body = Buffer.alloc(eventSize, 0x61);

interface Row {
  phase: string;
  events: number;
  seconds: number;
  /** CPU seconds the server process used in the phase (Linux only). */
  serverCpu: number | undefined;
  /** CPU seconds this process (SDK clients, both threads) used in the phase. */
  clientCpu: number;
}

function clientSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU time (user + system, seconds) of a process, from /proc: load-independent cost of the server. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

async function startServer(dataDir: string | undefined): Promise<{ child: ChildProcess; cs: string }> {
  const require = createRequire(import.meta.url);
  const cli = fileURLToPath(new URL('../dev/eventhubs/cli.ts', import.meta.url));
  const tsx = require.resolve('tsx');
  const profile = process.env.BENCH_PROFILE_DIR;
  const args = [
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    '--import',
    tsx,
    cli,
    '--port',
    '0',
  ];
  if (dataDir) args.push('--data-dir', dataDir);
  else args.push('--memory');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never leave the server behind, also when the benchmark fails.
  process.once('exit', () => child.kill('SIGKILL'));
  const cs = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`The server did not start:\n${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Endpoint=sb:\/\/\S+/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`The server exited with ${code}:\n${out}`)));
  });
  return { child, cs };
}

/** Sends full batches to every partition until `deadline`; returns the number of events sent. */
async function sendUntil(producer: EventHubProducerClient, deadline: number): Promise<number> {
  let sent = 0;
  const loop = async (partitionId: string) => {
    while (Date.now() < deadline) {
      const batch = await producer.createBatch({ partitionId, maxSizeInBytes: 256 * 1024 });
      while (batch.tryAdd({ body })) {}
      await producer.sendBatch(batch);
      sent += batch.count;
    }
  };
  await Promise.all(partitions.flatMap((id) => Array.from({ length: inFlightPerPartition }, () => loop(id))));
  return sent;
}

interface ReceiverCommand {
  cs: string;
  from: 'earliest' | 'latest';
}
type ReceiverReport = { type: 'ready' } | { type: 'count'; received: number };

/**
 * The receiving side, in a worker thread: a consumer does its own decoding work, on its own core, as the
 * pipeline's consumer does next to the ingest.
 */
async function runReceiver(cmd: ReceiverCommand): Promise<void> {
  const port = parentPort!;
  const client = new EventHubConsumerClient('$Default', cmd.cs, 'telemetry');
  let received = 0;
  const sub = client.subscribe(
    {
      processEvents: async (events) => {
        received += events.length;
      },
      processError: async (err) => {
        console.error('receive error:', err);
      },
    },
    {
      startPosition: cmd.from === 'earliest' ? earliestEventPosition : latestEventPosition,
      maxBatchSize: 1000,
      prefetchCount: 3000,
      maxWaitTimeInSeconds: 0.05,
      // Bodies are opaque bytes here; the SDK would otherwise try JSON.parse on every one of them.
      skipParsingBodyAsJson: true,
    },
  );
  const report = setInterval(
    () => port.postMessage({ type: 'count', received } satisfies ReceiverReport),
    10,
  );
  port.on('message', async () => {
    clearInterval(report);
    await sub.close();
    await client.close();
    port.postMessage({ type: 'count', received } satisfies ReceiverReport);
    port.close();
  });
  // Give the receivers a moment to attach (matters for 'latest').
  setTimeout(() => port.postMessage({ type: 'ready' } satisfies ReceiverReport), 1000);
}

class ReceiverThread {
  received = 0;
  private readonly worker: Worker;
  readonly ready: Promise<void>;

  constructor(cmd: ReceiverCommand) {
    // Node 20 workers do not take --import loaders: load this file through tsx's API instead.
    const api = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    this.worker = new Worker(code, { eval: true, workerData: cmd });
    this.ready = new Promise((resolve) => {
      this.worker.on('message', (m: ReceiverReport) => {
        if (m.type === 'ready') resolve();
        else this.received = m.received;
      });
    });
  }

  async until(count: number, deadline: number): Promise<void> {
    while (this.received < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  async stop(): Promise<void> {
    this.worker.postMessage('stop');
    await new Promise((r) => this.worker.once('exit', r));
  }
}

async function main(): Promise<void> {
  const dataDir =
    process.env.BENCH_MEMORY === '1' ? undefined : mkdtempSync(join(tmpdir(), 'eventhubs-bench-'));
  const { child, cs } = await startServer(dataDir);
  const rows: Row[] = [];
  try {
    // Send only.
    const producer = new EventHubProducerClient(cs, 'telemetry');
    await producer.getPartitionIds();
    const cpu = () => cpuSeconds(child.pid);
    const used = (from: number | undefined) => {
      const now = cpu();
      return now === undefined || from === undefined ? undefined : now - from;
    };
    let t0 = performance.now();
    let c0 = cpu();
    let k0 = clientSeconds();
    const sent = await sendUntil(producer, Date.now() + seconds * 1000);
    rows.push({
      phase: 'send only',
      events: sent,
      seconds: (performance.now() - t0) / 1000,
      serverCpu: used(c0),
      clientCpu: clientSeconds() - k0,
    });

    // Receive only: drain what was sent, from the start.
    const reader = new ReceiverThread({ cs, from: 'earliest' });
    t0 = performance.now();
    c0 = cpu();
    k0 = clientSeconds();
    await reader.until(sent, Date.now() + seconds * 3000);
    rows.push({
      phase: 'receive only',
      events: reader.received,
      seconds: (performance.now() - t0) / 1000,
      serverCpu: used(c0),
      clientCpu: clientSeconds() - k0,
    });
    await reader.stop();

    // Round trip: send and receive at the same time, until everything sent was received.
    const live = new ReceiverThread({ cs, from: 'latest' });
    await live.ready;
    t0 = performance.now();
    c0 = cpu();
    k0 = clientSeconds();
    const sentLive = await sendUntil(producer, Date.now() + seconds * 1000);
    await live.until(sentLive, Date.now() + 10_000);
    rows.push({
      phase: 'round trip',
      events: live.received,
      seconds: (performance.now() - t0) / 1000,
      serverCpu: used(c0),
      clientCpu: clientSeconds() - k0,
    });
    if (live.received < sentLive) {
      console.warn(`round trip: ${sentLive - live.received} of ${sentLive} events not received in time`);
    }
    await live.stop();
    await producer.close();
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }

  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `\n1 KiB events, 4 partitions, ${dataDir ? 'on-disk log' : 'in memory'}, ${seconds} s per phase`,
  );
  console.log(`load average ${load} on ${cpus().length} cores: other work on the machine skews events/s;`);
  console.log(
    'CPU µs per event is the load-independent cost (the SDK side runs a sender and a receiver thread)\n',
  );
  console.log(
    `${'phase'.padEnd(14)}${'events'.padStart(10)}${'seconds'.padStart(10)}${'events/s'.padStart(12)}` +
      `${'MB/s'.padStart(9)}${'server µs/event'.padStart(17)}${'SDK µs/event'.padStart(14)}`,
  );
  for (const r of rows) {
    const rate = r.events / r.seconds;
    console.log(
      `${r.phase.padEnd(14)}${String(r.events).padStart(10)}${r.seconds.toFixed(2).padStart(10)}` +
        `${Math.round(rate).toString().padStart(12)}${((rate * eventSize) / 1e6).toFixed(1).padStart(9)}` +
        `${(r.serverCpu === undefined ? '-' : ((r.serverCpu * 1e6) / r.events).toFixed(1)).padStart(17)}` +
        `${((r.clientCpu * 1e6) / r.events).toFixed(1).padStart(14)}`,
    );
  }
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  runReceiver(workerData as ReceiverCommand).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
