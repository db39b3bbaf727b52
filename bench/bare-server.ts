/**
 * The admission benchmark's baselines: a bare Node HTTPS server (keep-alive), started as its own
 * process by bench/admission.ts, in one of two modes:
 * - `echo` (THE baseline): reads the body, `JSON.parse`s it, and answers the webhook's own answer
 *   with the request's uid put in, serialized again: what the least useful real handler costs.
 * - `fixed` (the ceiling): reads the body and answers the same bytes every time, without parsing.
 *
 *   node .build/bench/bare-server.js CERT KEY PORT RESPONSE_FILE [echo|fixed]
 */
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';

const [cert, key, port, responseFile, mode = 'fixed'] = process.argv.slice(2);
const fixed = readFileSync(responseFile!);
const template = JSON.parse(fixed.toString('utf8')) as { response: { uid: string } };
const server = createServer({ cert: readFileSync(cert!), key: readFileSync(key!), minVersion: 'TLSv1.2' }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: Buffer = fixed;
    if (mode === 'echo') {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: string } };
      template.response.uid = String(review.request?.uid);
      body = Buffer.from(JSON.stringify(template));
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 95_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
