import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { EventSourceMessage } from 'eventsource-parser';

/** The most one event may buffer: a job view is a few KiB; a stream past this is broken or hostile. */
const maxEventChars = 4 * 1024 * 1024;

export interface StreamMessages {
  messages: AsyncGenerator<EventSourceMessage>;
  /** The server's `retry:` field, when it sent one. */
  retryMs(): number | null;
}

/**
 * The server-sent events of a response body, parsed by eventsource-parser (the same in browsers and
 * Node: the body is a web ReadableStream in both). Comments (heartbeats) are dropped by the parser.
 */
export function readServerSentEvents(body: ReadableStream<Uint8Array>): StreamMessages {
  let retry: number | null = null;
  const stream = body
    // A decoder takes any BufferSource; some lib typings cannot see that it takes Uint8Array chunks too.
    .pipeThrough(new TextDecoderStream() as TransformStream<Uint8Array, string>)
    .pipeThrough(new EventSourceParserStream({ onRetry: (ms) => (retry = ms), onError: 'terminate', maxBufferSize: maxEventChars }));
  async function* messages(): AsyncGenerator<EventSourceMessage> {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      // Stops the download when the consumer leaves early (break, return, an exception).
      await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  }
  return { messages: messages(), retryMs: () => retry };
}
