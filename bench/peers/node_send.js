// Node.js `web-push` (the most used Web Push library) as a peer of pushgate's benchmark, used
// as its README shows: `webpush.setVapidDetails()` once, then `sendNotification()` per
// subscription with the `agent` option set to one keep-alive `https.Agent` with Node's default
// limits (no cap per origin or in total: the 100 sends in flight are the only bound). The
// bench CA is trusted through NODE_EXTRA_CA_CERTS, as a real sender trusts the system's CAs.
// Usage: node node_send.js SUBS.jsonl VAPID.json PAYLOAD CONCURRENCY TTL
// Prints one JSON line: {"sent", "ok", "failed", "seconds", "errors", "main_cpu_s",
// "main_wait_s"}: the main thread's time on a CPU and waiting for one (the run queue) during
// the sends, from /proc (null elsewhere). The sends are CPU-bound on the main thread, so a
// machine busy with other work shows as waiting, not as a slower library.
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const webpush = require(path.join(__dirname, '..', 'node_modules', 'web-push'));

function schedstat() {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return [Number(run) / 1e9, Number(wait) / 1e9];
  } catch (err) {
    return null;
  }
}

async function main() {
  const [subsPath, vapidPath, payloadPath, concurrencyArg, ttlArg] = process.argv.slice(2);
  const subs = fs.readFileSync(subsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const vapid = JSON.parse(fs.readFileSync(vapidPath, 'utf8'));
  const payload = fs.readFileSync(payloadPath);
  const concurrency = Number(concurrencyArg);
  webpush.setVapidDetails(vapid.subject, vapid.public_key, vapid.private_key);
  const agent = new https.Agent({ keepAlive: true });
  const options = { TTL: Number(ttlArg), agent, timeout: 30000 };
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
  const before = schedstat();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const after = schedstat();
  result.main_cpu_s = before && after ? after[0] - before[0] : null;
  result.main_wait_s = before && after ? after[1] - before[1] : null;
  agent.destroy();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main();
