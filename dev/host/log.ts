import { format } from 'node:util';

export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

export interface LogRecord {
  time: string;
  level: LogLevel;
  category: string;
  invocationId?: string;
  message: string;
}

export type LogWriter = (record: LogRecord) => void;

const labels: Record<LogLevel, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  information: 'INFO ',
  warning: 'WARN ',
  error: 'ERROR',
  critical: 'CRIT ',
  none: '     ',
};
const colours: Partial<Record<LogLevel, string>> = {
  warning: '\x1b[33m',
  error: '\x1b[31m',
  critical: '\x1b[31m',
  debug: '\x1b[90m',
  trace: '\x1b[90m',
};

/** Readable one-line records: time, level, [function invocation], message. */
export function consoleWriter(options: { colour?: boolean; json?: boolean } = {}): LogWriter {
  const colour = options.colour ?? Boolean(process.stdout.isTTY);
  return (record) => {
    if (options.json) {
      process.stdout.write(`${JSON.stringify(record)}\n`);
      return;
    }
    const where = record.invocationId
      ? `[${record.category} ${record.invocationId.slice(0, 8)}]`
      : `[${record.category}]`;
    const line = `${record.time} ${labels[record.level]} ${where} ${record.message}`;
    const c = colour ? colours[record.level] : undefined;
    const out = record.level === 'error' || record.level === 'critical' ? process.stderr : process.stdout;
    out.write(c ? `${c}${line}\x1b[0m\n` : `${line}\n`);
  };
}

const order: LogLevel[] = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'];

/**
 * host.json `logging.logLevel`: the most specific category prefix wins ("Function.land" over
 * "Function" over "default"), as in the Functions host. Function logs use "Function.<name>".
 */
export function levelFilter(
  logLevel: Record<string, string>,
): (category: string, level: LogLevel) => boolean {
  const entries = Object.entries(logLevel).map(
    ([k, v]) => [k, order.indexOf(v.toLowerCase() as LogLevel)] as const,
  );
  return (category, level) => {
    let best = -1;
    let min = entries.find(([k]) => k === 'default')?.[1] ?? 2;
    for (const [prefix, value] of entries) {
      if ((category === prefix || category.startsWith(`${prefix}.`)) && prefix.length > best) {
        best = prefix.length;
        min = value;
      }
    }
    return order.indexOf(level) >= min && level !== 'none';
  };
}

export function filtered(
  writer: LogWriter,
  enabled: (category: string, level: LogLevel) => boolean,
): LogWriter {
  return (record) => {
    if (enabled(record.category, record.level)) writer(record);
  };
}

export class Logger {
  constructor(
    private readonly writer: LogWriter,
    readonly category = 'host',
    private readonly invocationId?: string,
  ) {}

  child(category: string, invocationId?: string): Logger {
    return new Logger(this.writer, category, invocationId);
  }

  log(level: LogLevel, ...args: unknown[]): void {
    this.writer({
      time: new Date().toISOString(),
      level,
      category: this.category,
      invocationId: this.invocationId,
      message: format(...args),
    });
  }

  info(...args: unknown[]): void {
    this.log('information', ...args);
  }
  warn(...args: unknown[]): void {
    this.log('warning', ...args);
  }
  error(...args: unknown[]): void {
    this.log('error', ...args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', ...args);
  }
}
