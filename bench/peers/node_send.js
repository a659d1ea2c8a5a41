// Node.js `web-push` (the most used Web Push library) as a peer of pushgate's benchmark.
// 100 concurrent sends over one keep-alive https.Agent that trusts the bench CA.
// Usage: node node_send.js SUBS.jsonl VAPID.json PAYLOAD CA.pem CONCURRENCY TTL
// Prints one JSON line: {"sent", "ok", "failed", "seconds", "errors"}.
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const webpush = require(path.join(__dirname, '..', 'node_modules', 'web-push'));

async function main() {
  const [subsPath, vapidPath, payloadPath, caPath, concurrencyArg, ttlArg] = process.argv.slice(2);
  const subs = fs.readFileSync(subsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const vapid = JSON.parse(fs.readFileSync(vapidPath, 'utf8'));
  const payload = fs.readFileSync(payloadPath);
  const concurrency = Number(concurrencyArg);
  const agent = new https.Agent({
    keepAlive: true, maxSockets: concurrency, maxTotalSockets: concurrency, ca: fs.readFileSync(caPath),
  });
  const options = {
    vapidDetails: { subject: vapid.subject, publicKey: vapid.public_key, privateKey: vapid.private_key },
    TTL: Number(ttlArg), agent, timeout: 30000,
  };
  const result = { sent: subs.length, ok: 0, failed: 0, seconds: 0, errors: [] };
  let next = 0;
  async function worker() {
    while (next < subs.length) {
      const sub = subs[next++];
      try {
        const res = await webpush.sendNotification(sub, payload, options);
        if (res.statusCode === 201) result.ok++;
      } catch (err) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(String(err).slice(0, 200));
      }
    }
  }
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
