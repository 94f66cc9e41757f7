// Builds the services nodes reach through ctx.services, once per worker.
// Each domain adds its service here (and declares its type on NodeServices).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

declare module '../engine/context.js' {
  interface NodeServices {
    config: Config;
    logger: Logger;
  }
}

export async function createServices(config: Config, logger: Logger) {
  return { config, logger };
}
