import { connect } from 'node:net';

/**
 * Sends bytes as they are to a loopback HTTP server and collects what comes back, for tests and
 * the fuzz suite: Node's own client refuses to send the malformed request lines we must survive.
 */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 2000): Promise<{ status: number | null; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (c) => {
      chunks.push(c);
      // One answer is enough: stop at the end of a Content-Length body or a header-only answer.
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
        if (len !== undefined && text.length >= end + 4 + Number(len)) done();
        else if (len === undefined && /\r\ntransfer-encoding: *chunked/i.test(text.slice(0, end)) && text.endsWith('0\r\n\r\n')) done();
      }
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(request);
  });
}
