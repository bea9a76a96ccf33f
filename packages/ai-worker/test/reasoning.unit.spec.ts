import { describe, expect, it } from 'vitest';
import { partialOutput, splitReasoning } from '../src/reasoning.js';

describe('splitReasoning', () => {
  it('takes a leading <think> block apart from the answer', () => {
    expect(splitReasoning('<think>\n2 and 2 make 4.\n</think>\n\nFour.')).toEqual({
      text: 'Four.',
      reasoning: '2 and 2 make 4.',
    });
    expect(splitReasoning('  <think>x</think>answer')).toEqual({ text: 'answer', reasoning: 'x' });
  });

  it('gives null reasoning for an empty block or none', () => {
    expect(splitReasoning('<think>\n\n</think>\n\nHello')).toEqual({ text: 'Hello', reasoning: null });
    expect(splitReasoning('Just an answer.\n')).toEqual({ text: 'Just an answer.\n', reasoning: null });
  });

  it('treats an unclosed block as all reasoning (a cut-off output)', () => {
    expect(splitReasoning('<think>still thinking')).toEqual({ text: '', reasoning: 'still thinking' });
  });

  it('closes a block the chat template opened', () => {
    expect(splitReasoning('pondering…\n</think>\n\nDone.')).toEqual({ text: 'Done.', reasoning: 'pondering…' });
  });

  it('leaves tags in the middle of an answer alone', () => {
    const text = 'Use <think> tags like <think>this</think>.';
    expect(splitReasoning(text)).toEqual({ text, reasoning: null });
  });

  it('takes a separate thinking stream as the reasoning', () => {
    expect(splitReasoning('Four.', ' 2 and 2 make 4. ')).toEqual({ text: 'Four.', reasoning: '2 and 2 make 4.' });
  });
});

describe('partialOutput', () => {
  it('is the raw output, with a thinking stream put back inside <think>', () => {
    expect(partialOutput('<think>a</think> b', '')).toBe('<think>a</think> b');
    expect(partialOutput('', 'hmm')).toBe('<think>hmm');
    expect(partialOutput('Four.', 'hmm')).toBe('<think>hmm</think>\n\nFour.');
  });
});
