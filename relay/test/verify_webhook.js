#!/usr/bin/env node
// verify_webhook.js: the receiver side of the relay tests, written with the
// official Standard Webhooks library (npm standardwebhooks, installed into
// test/node_modules by test/run.sh from package-lock.json).  It reads one
// JSON request per line on stdin and answers one JSON line on stdout:
//
//   {"secret": "whsec_...", "headers": {...}, "body_b64": "...", "now": 1764000000}
//   -> {"ok": true} or {"ok": false, "error": "No matching signature found"}
//
// "now" (optional, Unix seconds) is the receiver's clock for that request, so a
// test can present a captured request again later (a replay).
'use strict';
const readline = require('readline');
const { Webhook } = require('standardwebhooks');

function verify(req) {
  const wh = new Webhook(req.secret);
  const realNow = Date.now;
  if (req.now !== undefined) Date.now = () => req.now * 1000;
  try {
    wh.verify(Buffer.from(req.body_b64, 'base64'), req.headers);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err.message };
  } finally {
    Date.now = realNow;
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let answer;
  try {
    answer = verify(JSON.parse(line));
  } catch (err) {
    answer = { ok: false, error: 'bad request to the verifier: ' + err.message };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
