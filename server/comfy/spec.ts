// The shapes shared by the ComfyUI layer: API-format prompts, class definitions in
// ComfyUI's terms (INPUT_TYPES-like inputs, RETURN_TYPES-like outputs) and the node errors
// ComfyUI's validate_prompt returns.
import type { Link } from '../engine/workflow.js';

/** One node of an API-format prompt: `{"3": {"class_type": "KSampler", "inputs": {...}}}`. */
export interface ComfyNode {
  class_type: string;
  inputs?: Record<string, unknown>;
  _meta?: { title?: string };
}

export type ComfyPrompt = Record<string, ComfyNode>;

/** A linked input in API format: [source node id, output slot]. */
export type ComfyLinkValue = [string, number];

export function isLinkValue(v: unknown): v is ComfyLinkValue {
  return Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && Number.isInteger(v[1]);
}

/** What the translation needs to know about this server (installed models, input files). */
export interface ComfyEnv {
  /** ckpt_name choices: the model catalogue's names. */
  checkpoints(): string[];
  loras(): string[];
  /** control_net_name choices: models/controlnet folders and files. */
  controlnets(): string[];
  /** Files in the ComfyUI input folder (relative paths with '/'), for LoadImage. */
  inputImages(): string[];
  /** Turns an input-folder file (LoadImage's `image`) into a maskflow image source (upload:<id>). */
  importInput(name: string): Promise<string>;
  /** PNG text chunks SaveImage writes, as ComfyUI does: "prompt" and each extra_pnginfo entry (JSON). */
  pngInfo?(): Record<string, string>;
}

export interface InputDef {
  /** INT, FLOAT, STRING, BOOLEAN, COMBO, or a link type (MODEL, CLIP, VAE, IMAGE, MASK, LATENT, CONDITIONING...). */
  type: string;
  /** COMBO choices. */
  options?: (env: ComfyEnv) => readonly string[];
  /** ComfyUI's input options: default, min, max, step, multiline, tooltip, image_upload... */
  config?: Record<string, unknown>;
  /** A maskflow port: always a link, even when its type is INT/FLOAT/STRING/BOOLEAN. */
  port?: boolean;
}

export const WIDGET_TYPES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);

/** Whether an input takes a literal value (a widget) rather than a link. */
export const isWidget = (spec: InputDef): boolean => !spec.port && (WIDGET_TYPES.has(spec.type) || spec.type === 'JSON');


/** Per comfy node: what its translation needs and what it produces. */
export interface NodeTranslator {
  readonly id: string;
  readonly classType: string;
  readonly env: ComfyEnv;
  /** A widget value, already converted and range-checked. */
  value<T = unknown>(name: string): T;
  /** The maskflow link behind a linked input (its source translated first). */
  link(name: string): Promise<Link>;
  optionalLink(name: string): Promise<Link | undefined>;
  /** The comfy node feeding a linked input. */
  sourceOf(name: string): { id: string; node: ComfyNode; slot: number } | undefined;
  /** Another node of the prompt, by id. */
  node(comfyId: string): ComfyNode | undefined;
  /** Outputs (maskflow links) of another comfy node, translating it when needed. */
  outputsOf(comfyId: string): Promise<Link[]>;
  /** Adds a maskflow node belonging to this comfy node; returns its id. */
  add(type: string, params?: Record<string, unknown>, inputs?: Record<string, Link>, suffix?: string): string;
  /** Marks an added node as an output whose images ComfyUI reports (SaveImage: output, PreviewImage: temp). */
  markOutput(mfId: string, kind: 'output' | 'temp', prefix: string): void;
  /** Refuses the node with a ComfyUI node error. */
  fail(type: string, message: string, details: string, extra?: Record<string, unknown>): never;
}

export interface ComfyClassDef {
  display: string;
  category: string;
  description: string;
  required: Record<string, InputDef>;
  optional?: Record<string, InputDef>;
  /** [type, name] per output slot. */
  outputs: Array<[string, string]>;
  outputNode?: boolean;
  /** Returns the maskflow link behind each output slot. */
  translate(t: NodeTranslator): Promise<Link[]>;
}

/** One entry of ComfyUI's node_errors[id].errors. */
export interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface ComfyNodeErrors {
  errors: ComfyError[];
  dependent_outputs: string[];
  class_type: string;
}

/** The 400 body of POST /prompt. */
export interface ComfyPromptError {
  error: ComfyError;
  node_errors: Record<string, ComfyNodeErrors>;
}

export class ComfyValidationError extends Error {
  constructor(readonly body: ComfyPromptError) {
    super(body.error.message);
    this.name = 'ComfyValidationError';
  }
}

export class NodeRefused extends Error {
  constructor(readonly error: ComfyError) {
    super(error.message);
    this.name = 'NodeRefused';
  }
}
