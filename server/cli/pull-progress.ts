// Progress of `maskflow models pull`: bytes, rate and ETA for the current file and the whole
// pull. On a TTY one line redrawn at most every 100 ms; otherwise a line per file and per 10%.
import type { PullProgress } from '../models/pull/pull.js';
import { formatBytes } from '../models/pull/download.js';
import { barText } from './progress-bar.js';

export class PullProgressBar {
  private readonly tty: boolean;
  private readonly started: number;
  private lastDraw = 0;
  private lastFile = '';
  private lastDecile = -1;
  /** Bytes already present (resumed / skipped) when this run started, excluded from the rate. */
  private baseline?: number;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly quiet = false,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = Boolean(stream.isTTY);
    this.started = now();
  }

  update(p: PullProgress): void {
    if (this.quiet) return;
    if (p.phase === 'resolving') return this.line('resolving files…');
    if (p.phase === 'installing') return this.line(`${this.tty ? '\r\x1b[2K' : ''}verified ${p.fileCount} file(s), ${formatBytes(p.bytes)}; installing`);
    if (p.phase !== 'downloading') return;
    this.baseline ??= p.bytes;
    if (!this.tty) {
      if (p.file && p.file !== this.lastFile) {
        this.lastFile = p.file;
        this.line(`[${p.fileIndex + 1}/${p.fileCount}] ${p.file}${p.fileTotal !== undefined ? ` (${formatBytes(p.fileTotal)})` : ''}`);
      }
      const decile = p.total ? Math.floor((p.bytes / p.total) * 10) : -1;
      if (decile > this.lastDecile) {
        this.lastDecile = decile;
        this.line(`  ${this.text(p)}`);
      }
      return;
    }
    const t = this.now();
    if (t - this.lastDraw < 100 && p.fileBytes !== p.fileTotal) return;
    this.lastDraw = t;
    const file = p.file ? ` ${p.fileIndex + 1}/${p.fileCount} ${p.file.length > 40 ? `…${p.file.slice(-39)}` : p.file}` : '';
    const fileFrac = p.fileTotal ? ` (${Math.floor((p.fileBytes / p.fileTotal) * 100)}%)` : '';
    this.stream.write(`\r\x1b[2K${this.text(p)}${file}${fileFrac}`);
  }

  finish(): void {
    if (this.tty && !this.quiet) this.stream.write('\n');
  }

  /** `[####----] 1.2 GiB / 6.5 GiB  45.0 MiB/s  ETA 2m01s` */
  text(p: PullProgress): string {
    const secs = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = (p.bytes - (this.baseline ?? 0)) / secs;
    const eta = p.total !== undefined && rate > 0 ? formatDuration((p.total - p.bytes) / rate) : '?';
    const total = p.total !== undefined ? ` / ${formatBytes(p.total)}` : '';
    return `${barText(p.total ? p.bytes / p.total : 0, 24)} ${formatBytes(p.bytes)}${total}  ${formatBytes(Math.round(rate))}/s  ETA ${eta}`;
  }

  private line(s: string): void {
    if (!this.quiet) this.stream.write(`${s}\n`);
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}
