// Writes docs/workflow.schema.json from the TypeBox definition (npm run schema).
import { writeFile } from 'node:fs/promises';
import { workflowJsonSchema } from '../server/engine/workflow-schema-file.js';

await writeFile(new URL('../docs/workflow.schema.json', import.meta.url), workflowJsonSchema());
