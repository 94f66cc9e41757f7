// Errors with stable codes. A workflow problem names the node and the input or param.

export type ProblemCode =
  | 'invalid_workflow'
  | 'unknown_node_type'
  | 'missing_input'
  | 'unknown_input'
  | 'unknown_link_node'
  | 'unknown_link_output'
  | 'type_mismatch'
  | 'invalid_param'
  | 'unknown_public_input'
  | 'invalid_public_input'
  | 'cycle'
  | 'no_output_nodes'
  | 'too_many_nodes';

/** One validation problem; validation reports all of them at once. */
export interface Problem {
  nodeId?: string;
  /** e.g. `nodes.den.inputs.unet`, `nodes.den.params.steps`, `inputs.prompt`. */
  path: string;
  code: ProblemCode;
  message: string;
}

export class WorkflowValidationError extends Error {
  readonly code = 'workflow_invalid';
  constructor(readonly problems: Problem[]) {
    super(`workflow is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'WorkflowValidationError';
  }
}

/**
 * Thrown by nodes for expected failures (bad input, unreachable URL, model missing).
 * `input`/`param` name what was wrong so the editor can mark it.
 */
export class NodeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: { input?: string; param?: string; status?: number; [k: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'NodeError';
  }
}

export class CancelledError extends Error {
  readonly code = 'cancelled';
  constructor(message = 'run was cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** Serialisable error of a run, as events and the job store carry it. */
export interface RunErrorInfo {
  code: string;
  message: string;
  nodeId?: string;
  nodeType?: string;
  input?: string;
  param?: string;
  problems?: Problem[];
  details?: Record<string, unknown>;
}

export function toRunErrorInfo(err: unknown, nodeId?: string, nodeType?: string): RunErrorInfo {
  if (err instanceof WorkflowValidationError) {
    return { code: err.code, message: err.message, problems: err.problems };
  }
  if (err instanceof CancelledError) return { code: 'cancelled', message: err.message, nodeId, nodeType };
  if (err instanceof NodeError) {
    const { input, param, ...rest } = err.details;
    return {
      code: err.code,
      message: err.message,
      nodeId,
      nodeType,
      ...(input !== undefined ? { input } : {}),
      ...(param !== undefined ? { param } : {}),
      ...(Object.keys(rest).length ? { details: rest } : {}),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'node_failed', message, nodeId, nodeType };
}
