// The benches' reader of Prometheus text: the sums and differences they print per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { growth, parseMetrics, sumBy } from './support/metrics.ts';

const exposition = `# HELP curator_inference_busy_seconds_total Seconds.
# TYPE curator_inference_busy_seconds_total counter
curator_inference_busy_seconds_total{model="curator-test/sentiment",device="cpu",service="worker"} 1.5
curator_inference_busy_seconds_total{model="curator-test/headline",device="cpu",service="worker"} 4
curator_inference_busy_seconds_total{model="curator-test/headline",device="gpu",service="worker"} 0.25
curator_worker_info{device="cpu",host="a \\"quoted\\" host",pools="text,image"} 1
nodejs_heap_size_used_bytes 52428800
`;

test('parses samples with their labels, escaped quotes included', () => {
  const samples = parseMetrics(exposition);
  assert.equal(samples.length, 5);
  assert.deepEqual(samples[3], { name: 'curator_worker_info', labels: { device: 'cpu', host: 'a "quoted" host', pools: 'text,image' }, value: 1 });
  assert.deepEqual(samples[4], { name: 'nodejs_heap_size_used_bytes', labels: {}, value: 52428800 });
});

test('sums a metric by a label, or in all, and takes a counter\'s growth', () => {
  const samples = parseMetrics(exposition);
  assert.deepEqual([...sumBy(samples, 'curator_inference_busy_seconds_total', 'model')], [
    ['curator-test/sentiment', 1.5],
    ['curator-test/headline', 4.25],
  ]);
  assert.deepEqual([...sumBy(samples, 'curator_inference_busy_seconds_total')], [['', 5.75]]);
  const later = new Map([
    ['curator-test/sentiment', 2],
    ['curator-test/headline', 4.25],
    ['curator-test/image', 1],
  ]);
  assert.deepEqual([...growth(sumBy(samples, 'curator_inference_busy_seconds_total', 'model'), later)], [
    ['curator-test/sentiment', 0.5],
    ['curator-test/headline', 0],
    ['curator-test/image', 1],
  ]);
});
