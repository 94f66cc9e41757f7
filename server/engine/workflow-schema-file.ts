// The workflow format as a standalone JSON Schema document (docs/workflow.schema.json),
// for editors and other tools that validate workflow files.
import { WorkflowSchema } from './workflow.js';

export function workflowJsonSchema(): string {
  const schema = { $schema: 'http://json-schema.org/draft-07/schema#', ...JSON.parse(JSON.stringify(WorkflowSchema)) };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
