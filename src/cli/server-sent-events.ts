export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Parses a `text/event-stream` body as the HTML specification describes it: lines end in CRLF, LF
 * or CR; `data:` lines join with newlines; a blank line dispatches; comment lines (`: keep-alive`)
 * only count as activity. `onActivity` hears every chunk, so a caller can tell a quiet stream
 * from a dead one. Stopping early (a `return` from the loop, an error) cancels the body.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  onActivity: () => void = () => {},
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | null = null;
  /** The previous chunk ended in CR: an LF opening this one belongs to that line end. */
  let pendingCr = false;

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true });
      if (pendingCr && buffer.startsWith('\n')) buffer = buffer.slice(1);
      pendingCr = false;

      for (let end = buffer.search(/[\r\n]/); end !== -1; end = buffer.search(/[\r\n]/)) {
        const line = buffer.slice(0, end);
        const crlf = buffer[end] === '\r' && buffer[end + 1] === '\n';
        pendingCr = buffer[end] === '\r' && end + 1 === buffer.length;
        buffer = buffer.slice(end + (crlf ? 2 : 1));

        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'event') event = fieldValue;
        else if (field === 'data') data.push(fieldValue);
        else if (field === 'id' && !fieldValue.includes('\u0000')) id = fieldValue;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
