// `maskflow serve | worker | run | models | tokens | validate` — the command-line entry.
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { runCommand } from './cli/run.js';
import { validateCommand } from './cli/validate.js';

const USAGE = `usage:
  maskflow serve                                   start the HTTP/websocket server (MASKFLOW_* env configures it)
  maskflow worker                                  run jobs for a scale-out API node (needs MASKFLOW_REDIS_URL and MASKFLOW_SERVER_URL)
  maskflow run <workflow.json|name> [--input name=value ...] [--out DIR] [--models DIR] [--quiet]
                                                   run a workflow with a progress bar and write its outputs
  maskflow validate <workflow.json|name> [--input name=value ...]
                                                   list every problem of a workflow (exit 1 when invalid)
  maskflow import-comfy <file> [--out workflow.json]
                                                   convert a ComfyUI workflow (UI/API JSON or PNG) to a maskflow workflow;
                                                   lists untranslatable nodes (exit 1 when any remain)
  maskflow models list|verify [--models DIR]       list models (checkpoints, diffusers and ONNX folders) / check them and their recorded hashes
  maskflow models import <file|folder> [--name N] [--config DIR] [--models DIR]
                                                   add a .safetensors checkpoint or diffusers folder and compile it
  maskflow models pull <owner/repo[@rev]|https-url> [--file NAME] [--name NAME] [--include safety_checker,...]
                       [--sha256 HEX] [--models DIR] [--quiet]
                                                   download a model from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN)
                                                   or a URL, verified and resumable
  maskflow tokens <modelDir> <prompt>              token ids and count for both SDXL tokenizers (JSON)

  --input values are JSON when they parse as JSON, else text; name=@path reads a local file path for image inputs.`;

/**
 * Keeps a long-running command alive until SIGINT/SIGTERM: the first signal closes it gracefully
 * and exits 0, a second one exits at once.
 */
function runUntilSignal(close: () => Promise<void>, stopped?: Promise<number>): Promise<number> {
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    void close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return new Promise<number>((resolve) => void stopped?.then(resolve));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const err = (s: string) => process.stderr.write(`${s}\n`);
  try {
    switch (command) {
      case 'serve': {
        const { startServer } = await import('./main.js');
        const server = await startServer(loadConfig());
        return await runUntilSignal(() => server.close());
      }
      case 'worker': {
        const { startRemoteWorker } = await import('./worker/remote-worker.js');
        const { createLogger } = await import('./log.js');
        const config = loadConfig();
        const worker = await startRemoteWorker(config, { logger: createLogger(config.logLevel, { component: 'worker-process' }) });
        // A worker finishes its running jobs on the first signal; a second one leaves them to BullMQ to re-queue.
        // It also stops by itself, exiting 1, when the API node refuses its key while running.
        const refused = worker.failed.then((reason) => (err(`maskflow worker: ${reason}`), process.exit(1)));
        return await runUntilSignal(() => worker.close(), refused);
      }
      case 'run':
        return await runCommand(rest, { out, err });
      case 'validate':
        return await validateCommand(rest, { out, err });
      case 'import-comfy': {
        const { importComfyCommand } = await import('./cli/import-comfy.js');
        return await importComfyCommand(rest, { out, err });
      }
      case 'models': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            models: { type: 'string' },
            file: { type: 'string' },
            name: { type: 'string' },
            include: { type: 'string' },
            sha256: { type: 'string' },
            quiet: { type: 'boolean' },
            config: { type: 'string' },
          },
        });
        const { modelsCommand } = await import('./cli/models.js');
        const { pullSettings } = await import('./models/pull/pull.js');
        const config = loadConfig();
        const { models, ...opts } = values;
        return await modelsCommand({ sub: positionals[0] ?? 'list', source: positionals[1], ...opts }, pullSettings({ ...config, modelsDir: models ?? config.modelsDir }), { out, err });
      }
      case 'tokens': {
        const [modelDir, ...words] = rest;
        if (!modelDir || !words.length) {
          err(USAGE);
          return 2;
        }
        const { countTokens } = await import('./sdxl/token-count.js');
        out(JSON.stringify(await countTokens(modelDir, words.join(' '))));
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        err(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    err(`maskflow ${command}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
