// Turns a chat model's answer into a single prompt line. Models add preambles ("Here is...",
// "Prompt:"), wrap the answer in quotes or code fences, emit <think> blocks (reasoning
// models), or break lines; SDXL wants one line of phrases.

export function cleanReply(text: string): string {
  let s = text.replace(/<think>[\s\S]*?<\/think>/gi, ' ');
  // An unterminated <think> means the answer never arrived.
  if (/<think>/i.test(s)) s = s.replace(/<think>[\s\S]*$/i, ' ');
  s = s.replace(/```[a-z]*\n?/gi, ' ').replace(/```/g, ' ');
  const lines = s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  // Drop a leading preamble line such as "Here is an expanded prompt:".
  if (lines.length > 1 && /^(here('| i)s|sure|okay|certainly)\b.*:$/i.test(lines[0]!)) lines.shift();
  s = lines.join(', ');
  s = s.replace(/^\s*(expanded |enhanced |improved )?prompt\s*:\s*/i, '');
  s = s.replace(/^[-*•]\s+/, '');
  s = s.replace(/\s+/g, ' ').trim();
  // Matching quotes around the whole answer.
  const q = s.match(/^(["'“‘`])([\s\S]*)(["'”’`])$/);
  if (q && q[2] && !/["“”]/.test(q[2])) s = q[2].trim();
  s = s.replace(/\s+,/g, ',').replace(/(,\s*)+/g, ', ').replace(/^,\s*|,\s*$/g, '');
  return s.trim();
}
