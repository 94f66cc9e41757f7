// The node SDK: the only engine module nodes import.
export { defineNode } from './node.js';
export type { NodeDefinition, InputSpec, OutputSpec, InputValues, OutputValues, NodeResult, ExecuteResult } from './node.js';
export type { ExecutionContext, NodeServices, FileStore, StoredFile, Preview, LogLevel } from './context.js';
export { NodeError, CancelledError } from './errors.js';
export type { PortType, PortValueMap } from './ports.js';
export { Type } from '@sinclair/typebox';
export type { Static } from '@sinclair/typebox';
