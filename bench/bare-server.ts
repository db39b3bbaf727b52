/**
 * The admission benchmark's baseline: a bare Node HTTPS server (keep-alive) that reads the request
 * body and answers one fixed AdmissionReview. Started as its own process by bench/admission.ts.
 *
 *   node .build/bench/bare-server.js CERT KEY PORT RESPONSE_FILE
 */
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';

const [cert, key, port, responseFile] = process.argv.slice(2);
const fixed = readFileSync(responseFile!);
const server = createServer({ cert: readFileSync(cert!), key: readFileSync(key!), minVersion: 'TLSv1.2' }, (req, res) => {
  // Read the whole body, as any real handler must, then answer the same bytes every time.
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': fixed.length });
    res.end(fixed);
  });
});
server.keepAliveTimeout = 95_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
