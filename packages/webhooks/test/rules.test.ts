import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter, retryDelayMs, retryDelays, webhookUrlProblem } from '../src/index.ts';

const strict = { allowPrivate: false, allowedPorts: [80, 443] };

test('webhook URLs that can never be delivered to are named; names are left to delivery time', () => {
  for (const url of ['https://hooks.example.com/curator', 'http://93.184.215.14/hook', 'https://[2606:4700::1111]/hook', 'http://hooks.example.com:80/x']) {
    assert.equal(webhookUrlProblem(url, strict), null, url);
  }
  const refused: Array<[string, RegExp]> = [
    ['http://127.0.0.1/hook', /private, loopback/],
    ['http://10.1.2.3/hook', /private, loopback/],
    ['http://169.254.169.254/latest/meta-data', /private, loopback/],
    ['http://[::1]/hook', /private, loopback/],
    ['http://[::ffff:127.0.0.1]/hook', /private, loopback/],
    ['http://0x7f.1/hook', /private, loopback/],
    ['http://2130706433/hook', /private, loopback/],
    ['http://localhost/hook', /localhost/],
    ['http://api.localhost./hook', /localhost/],
    ['https://hooks.example.com:8443/hook', /port 8443 is not allowed/],
    ['https://user:pw@hooks.example.com/hook', /credentials/],
    ['ftp://hooks.example.com/hook', /http\(s\)/],
    ['not a url', /not a valid URL/],
  ];
  for (const [url, problem] of refused) assert.match(webhookUrlProblem(url, strict) ?? 'accepted', problem, url);
  assert.equal(webhookUrlProblem('https://hooks.example.com:8443/hook', { allowPrivate: false, allowedPorts: [443, 8443] }), null);
});

test('FETCH_ALLOW_PRIVATE lifts the address and port rules, never the credentials rule', () => {
  const open = { allowPrivate: true, allowedPorts: [80, 443] };
  assert.equal(webhookUrlProblem('http://127.0.0.1:9999/hook', open), null);
  assert.match(webhookUrlProblem('http://u:p@127.0.0.1:9999/hook', open) ?? '', /credentials/);
});

test('the retry schedule grows exponentially from the first delay and spans the window', () => {
  const day = { attempts: 10, firstDelayMs: 5000, windowMs: 86_400_000 };
  const delays = retryDelays(day);
  assert.equal(delays.length, 9);
  assert.equal(delays[0], 5000);
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! > delays[i - 1]!, `delay ${i} grows`);
  const total = delays.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - day.windowMs) <= delays.length, `the retries span the window (${total} ms)`);
  // A window too short to grow in: every retry waits the first delay.
  assert.deepEqual(retryDelays({ attempts: 4, firstDelayMs: 1000, windowMs: 2000 }), [1000, 1000, 1000]);
  assert.deepEqual(retryDelays({ attempts: 1, firstDelayMs: 1000, windowMs: 60_000 }), []);
});

test('jitter stays within ±20 %; Retry-After is honoured, but never past the window', () => {
  const schedule = { attempts: 5, firstDelayMs: 1000, windowMs: 60_000 };
  const base = retryDelays(schedule)[1]!;
  assert.equal(retryDelayMs(schedule, 2, { random: () => 0 }), Math.round(base * 0.8));
  assert.equal(retryDelayMs(schedule, 2, { random: () => 1 }), Math.round(base * 1.2));
  assert.equal(retryDelayMs(schedule, 1, { random: () => 0.5, retryAfterMs: 30_000 }), 30_000);
  assert.equal(retryDelayMs(schedule, 1, { random: () => 0.5, retryAfterMs: 10_000_000 }), 60_000);
  assert.equal(retryDelayMs(schedule, 1, { random: () => 0.5, retryAfterMs: 10 }), 1000);
  // Past the last scheduled retry the last delay holds.
  assert.equal(retryDelayMs(schedule, 99, { random: () => 0.5 }), retryDelays(schedule).at(-1));
});

test('Retry-After: delay-seconds or an HTTP date', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(['7'], now), 7000);
  assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:01:00 GMT', now), 60_000);
  assert.equal(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), null);
  assert.equal(parseRetryAfter(undefined, now), null);
});
