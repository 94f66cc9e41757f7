// Model ports carry cheap references; the worker's ModelStore resolves them to ORT
// sessions, so cached node outputs stay small and one owner manages memory.

export interface LoraRef {
  /** Name in <modelsDir>/loras, upload id, or http(s) URL. */
  source: string;
  /** Content hash once resolved (enters cache keys and the job record). */
  sha256?: string;
  strengthModel: number;
  strengthClip: number;
}

export interface EmbeddingRef {
  /** Name in <modelsDir>/embeddings, upload id, or http(s) URL. */
  source: string;
  sha256?: string;
  /** Token the prompt uses; default: the file name without extension. N vectors -> T, T_1, ... T_{N-1}. */
  token?: string;
  /** Or one token per vector (the API's `embeddings[].tokens`, e.g. ["<s0>", "<s1>"]). */
  tokens?: string[];
}

export interface ModelRef {
  /** Folder name under the models directory. */
  model: string;
  loras: LoraRef[];
  embeddings: EmbeddingRef[];
}

declare module '../engine/ports.js' {
  interface PortValueMap {
    UNET: ModelRef;
    CLIP: ModelRef;
    VAE: ModelRef;
  }
}
