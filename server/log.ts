// Structured logs (JSON lines on stderr-free stdout via pino). Library code logs through
// ctx.log or a child of this logger, never console.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.MASKFLOW_LOG_LEVEL || 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { app: 'maskflow', ...bindings } });
}

/** A logger that drops everything: for tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
