// A terminal progress bar driven by run events: overall node count plus the
// current node's own steps. Without a TTY it prints one line per node instead.
import type { RunEvent } from '../engine/events.js';

/** `[#####-----]` for a fraction in [0, 1]. */
export function barText(frac: number, width = 30): string {
  const filled = Math.round(Math.min(1, Math.max(0, frac)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export class ProgressBar {
  private total = 0;
  private finished = 0;
  private current = '';
  private step = '';
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly quiet = false,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(e: RunEvent): void {
    switch (e.type) {
      case 'run:start':
        this.total = e.nodes.length;
        break;
      case 'node:start':
        this.current = `${e.nodeId} (${e.nodeType})`;
        this.step = '';
        if (!this.tty) this.line(`running ${this.current}`);
        break;
      case 'node:cached':
        this.finished++;
        if (!this.tty) this.line(`cached  ${e.nodeId} (${e.nodeType})`);
        break;
      case 'node:progress':
        this.step = ` ${e.done}/${e.total}`;
        break;
      case 'node:done':
        this.finished++;
        if (!this.tty) this.line(`done    ${e.nodeId} in ${e.ms.toFixed(0)} ms`);
        break;
      default:
        return;
    }
    if (this.tty) this.draw();
  }

  finish(): void {
    if (this.tty && !this.quiet) this.stream.write('\n');
  }

  private draw(): void {
    if (this.quiet) return;
    const bar = barText(this.total ? this.finished / this.total : 0);
    this.stream.write(`\r\x1b[2K${bar} ${this.finished}/${this.total} ${this.current}${this.step}`);
  }

  private line(s: string): void {
    if (!this.quiet) this.stream.write(`${s}\n`);
  }
}
