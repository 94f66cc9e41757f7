// The worker's ModelStore (ctx.services.models): resolves cheap ModelRefs to pooled ORT
// sessions and tokenizers. One owner manages model memory; node outputs stay small.
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { ClipTokenizer } from '../sdxl/tokenizer.js';
import { ModelCatalog, type Component, type ModelInfo } from './catalog.js';
import { compiledAttention, compiledWeightDtype, inferenceOptionsFromConfig, type InferenceOptions } from './inference-options.js';
import type { ModelRef } from './refs.js';
import { SessionPool, type ComponentPatcher, type PoolStats } from './sessions.js';
import { compileControlNet, planControlNet } from '../checkpoints/controlnets.js';
import type { ControlNetConfig } from '../checkpoints/controlnet-graph.js';
import { attentionCacheDir, FUSED_ATTENTION_COMPONENTS, withFusedAttention } from './fused-attention-source.js';

export interface Tokenizers {
  tokenizer: ClipTokenizer;
  tokenizer2: ClipTokenizer;
}

export interface ModelStoreOptions {
  modelsDir: string;
  defaultModel?: string;
  inference: InferenceOptions;
  sessionCacheBytes: number;
  /** Where checkpoints and diffusers folders are compiled to (<dataDir>/compiled). */
  compiledDir?: string;
  /** Where ONNX-folder graphs with fused attention and external weights are kept (<dataDir>/cache/attention). */
  attentionCacheDir?: string;
  logger?: Logger;
}

export class ModelStore {
  readonly catalog: ModelCatalog;
  readonly pool: SessionPool;
  private patcher?: ComponentPatcher;
  private readonly tokenizers = new Map<string, Promise<Tokenizers>>();

  constructor(readonly options: ModelStoreOptions) {
    this.catalog = new ModelCatalog(options.modelsDir, options.defaultModel, {
      compiledDir: options.compiledDir,
      dtype: compiledWeightDtype(options.inference),
      attention: compiledAttention(options.inference),
      logger: options.logger,
    });
    this.pool = new SessionPool(options.inference, options.sessionCacheBytes, options.logger);
  }

  static fromConfig(config: Config, logger?: Logger): ModelStore {
    return new ModelStore({
      modelsDir: config.modelsDir,
      defaultModel: config.defaultModel,
      inference: inferenceOptionsFromConfig(config),
      sessionCacheBytes: config.sessionCacheBytes,
      compiledDir: path.join(config.dataDir, 'compiled'),
      attentionCacheDir: attentionCacheDir(config.dataDir),
      logger,
    });
  }

  /** Registers the LoRA / textual-inversion patcher (see the comment in sessions.ts). */
  setPatcher(patcher: ComponentPatcher | undefined): void {
    this.patcher = patcher;
  }

  /** "" resolves to the default model; throws NodeError (model_not_found / model_incomplete). */
  info(ref: ModelRef | string): ModelInfo {
    return this.catalog.get(typeof ref === 'string' ? ref : ref.model);
  }

  private variantKey(ref: ModelRef, component: Component): string {
    if (!this.patcher || (!ref.loras.length && !ref.embeddings.length)) return '';
    return this.patcher.variantKey(ref, component);
  }

  /** The pooled session of a component for this ref (patched when the ref has LoRAs/embeddings). */
  async getSession(ref: ModelRef, component: Component): Promise<InferenceSession> {
    const info = this.info(ref);
    const variant = this.variantKey(ref, component);
    const file = path.join(info.dir, component, 'model.onnx');
    const key = SessionPool.key(info.name, component, variant);
    const patcher = this.patcher;
    return this.pool.get(
      key,
      async () => {
        const src = variant && patcher ? await patcher.build({ ...ref, model: info.name }, component, { info, component, path: file }) : { path: file };
        return this.fuseAttention(info, component) ? withFusedAttention(src, { cacheDir: this.options.attentionCacheDir, logger: this.options.logger, label: `${info.name}/${component}` }) : src;
      },
      info.componentBytes[component],
    );
  }

  /**
   * Optimum exports keep torch's whole-matrix attention; with `mha` (the default) their UNet and
   * VAE graphs get MultiHeadAttention at session creation, as compiled checkpoints have it.
   * Applied after LoRA patching, which only replaces initializers.
   */
  private fuseAttention(info: ModelInfo, component: Component): boolean {
    return info.format === 'onnx' && compiledAttention(this.options.inference).impl === 'mha' && FUSED_ATTENTION_COMPONENTS.includes(component);
  }

  /** Tokenizers of a CLIP ref; embedding tokens are added by the patcher on fresh instances. */
  getTokenizers(ref: ModelRef): Promise<Tokenizers> {
    const info = this.info(ref);
    const variant = this.variantKey(ref, 'text_encoder');
    const key = `${info.name}#${variant}`;
    let t = this.tokenizers.get(key);
    if (!t) {
      const patcher = this.patcher;
      t = (async () => {
        const toks: Tokenizers = {
          tokenizer: await ClipTokenizer.fromDir(path.join(info.dir, 'tokenizer')),
          tokenizer2: await ClipTokenizer.fromDir(path.join(info.dir, 'tokenizer_2')),
        };
        if (variant && patcher?.extendTokenizers) await patcher.extendTokenizers({ ...ref, model: info.name }, toks);
        return toks;
      })();
      this.tokenizers.set(key, t);
      t.catch(() => this.tokenizers.delete(key));
    }
    return t;
  }

  /** The compiled ControlNet at a local path (compiled on first use) and its pooled session. */
  async controlNet(p: string): Promise<{ session: InferenceSession; config: ControlNetConfig; name: string }> {
    const cn = compileControlNet(planControlNet(p), { outRoot: this.catalog.compiledDir, dtype: this.catalog.dtype, attention: compiledAttention(this.options.inference), logger: this.options.logger });
    const session = await this.pool.get(`controlnet:${cn.dir}`, async () => ({ path: cn.model }), cn.bytes);
    return { session, config: cn.config, name: cn.name };
  }

  /** Frees both text encoders of a model (after encoding, when memory is tight). */
  releaseTextEncoders(model: string): void {
    const name = this.catalog.resolveName(model);
    this.pool.release(`${name}/text_encoder`);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }
}
