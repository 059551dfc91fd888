#!/usr/bin/env node
// receiver.js: the fast loopback webhook endpoint of relay/bench.  Node's
// http module on 127.0.0.1; answers every POST 200 at once with keep-alive,
// counts requests and the TCP connections they came on, and checks nothing
// else, except one signature in SAMPLE when --secret is given (so a signed
// run proves the header is right without paying for HMAC on every request).
//
//   node receiver.js [--log] [--secret S]
//
// Prints its port as the first line of stdout.  With --log, also one line
// per POST once its body has arrived:
//   <CLOCK_MONOTONIC ns when the request's headers arrived> <sku of the body>
// (process.hrtime is libuv's uv_hrtime, CLOCK_MONOTONIC on Linux, so the
// C programs in this directory can compare it with their own clock).
// GET /count answers {"posts":N,"connections":N,"bad_signatures":N,"signed":N}
// where connections counts the TCP connections that carried a POST.
// GET /reset zeroes the counters.
'use strict';
const http = require('http');
const crypto = require('crypto');

const args = process.argv.slice(2);
const log = args.includes('--log');
const secretAt = args.indexOf('--secret');
const secret = secretAt >= 0 ? args[secretAt + 1] : null;
const SAMPLE = 1000;

let posts = 0, connections = 0, badSignatures = 0, signed = 0, generation = 0;

// Standard Webhooks: HMAC-SHA256 keyed with the base64 after "whsec_", over
// "id.timestamp.body"; one of the space-separated "v1,<base64>" must match.
// (The relay's tests check every request with the official library.)
const key = secret === null ? null : Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

function verify(req, body) {
  const id = req.headers['webhook-id'];
  const ts = req.headers['webhook-timestamp'];
  const sigs = (req.headers['webhook-signature'] || '').split(' ');
  const mac = crypto.createHmac('sha256', key).update(id + '.' + ts + '.').update(body).digest('base64');
  if (!sigs.includes('v1,' + mac)) badSignatures++;
}

const server = http.createServer((req, res) => {
  const arrived = log ? process.hrtime.bigint() : 0n;
  if (req.method !== 'POST') {
    if (req.url === '/reset') {
      posts = connections = badSignatures = signed = 0;
      generation++;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ posts, connections, bad_signatures: badSignatures, signed }) + '\n');
    return;
  }
  const n = ++posts;
  if (req.socket.generation !== generation) {
    req.socket.generation = generation;
    connections++;
  }
  if (req.headers['webhook-signature']) signed++;
  const check = secret !== null && n % SAMPLE === 1;
  if (!log && !check) {
    req.resume();
    res.end('ok\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (check) verify(req, body);
    res.end('ok\n');
    if (log) {
      let sku = '?';
      try { sku = JSON.parse(body).sku; } catch (e) { /* counted as '?' */ }
      process.stdout.write(arrived + ' ' + sku + '\n');
    }
  });
});
server.keepAliveTimeout = 60000;
server.on('connection', (sock) => sock.setNoDelay(true));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
// Never outlive the benchmark by much: it closes our stdin (a pipe) or kills us.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), 600 * 1000).unref();
