// MASKFLOW_PROMPT_EXPANDER_URL may be a server root (http://127.0.0.1:8080), an API base
// (http://127.0.0.1:11434/v1, https://api.openai.com/v1) or the full chat-completions URL.

export function chatCompletionsUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`MASKFLOW_PROMPT_EXPANDER_URL is not a URL: "${base}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`MASKFLOW_PROMPT_EXPANDER_URL must be http(s), got ${url.protocol}`);
  const p = url.pathname.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(p)) url.pathname = p;
  else if (p === '') url.pathname = '/v1/chat/completions';
  else url.pathname = `${p}/chat/completions`;
  return url.toString();
}
