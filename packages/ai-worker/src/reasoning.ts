const open = '<think>';
const close = '</think>';

export interface SplitOutput {
  /** The answer, without the reasoning. */
  text: string;
  /** The model's thinking, or null when it gave none. */
  reasoning: string | null;
}

/**
 * Keeps a DeepSeek-R1 style model's reasoning apart from its answer. The reasoning is a
 * `<think>…</think>` block at the start of the output, or (Ollama ≥ 0.9 asked to `think`)
 * a separate `thinking` stream; both are accepted, and an unclosed block (an aborted or
 * truncated output) is all reasoning. Chat templates that pre-fill `<think>` make the
 * model start inside the block, so a `</think>` without an opening tag closes one too.
 *
 * @example
 * splitReasoning('<think>2+2 is 4</think>\n\nFour.') // { text: 'Four.', reasoning: '2+2 is 4' }
 */
export function splitReasoning(output: string, thinking = ''): SplitOutput {
  const tagged = splitThinkTags(output);
  const parts = [thinking.trim(), tagged.reasoning ?? ''].filter((p) => p !== '');
  return { text: tagged.text, reasoning: parts.length > 0 ? parts.join('\n\n') : null };
}

function splitThinkTags(output: string): SplitOutput {
  const start = output.trimStart();
  const end = start.indexOf(close);
  if (start.startsWith(open)) {
    if (end === -1) return { text: '', reasoning: start.slice(open.length).trim() };
    return { text: start.slice(end + close.length).trimStart(), reasoning: start.slice(open.length, end).trim() };
  }
  if (end !== -1 && !start.slice(0, end).includes(open)) {
    return { text: start.slice(end + close.length).trimStart(), reasoning: start.slice(0, end).trim() };
  }
  return { text: output, reasoning: null };
}

/**
 * The output so far as one string in DeepSeek-R1's own format, for progress events: the
 * thinking stream (when the model sends one) inside `<think>`, then the answer.
 */
export function partialOutput(content: string, thinking: string): string {
  if (thinking === '') return content;
  return content === '' ? `${open}${thinking}` : `${open}${thinking}${close}\n\n${content}`;
}
