import type { AnalysisTask } from '@curator/contracts';

// BERTweet sentiment (finiteautomata/bertweet-base-sentiment-analysis) names its classes NEG/NEU/POS;
// Curator's API speaks whole words. Other labels (the BBC genres) pass through lowercased.
const sentimentNames: Record<string, string> = { neg: 'negative', neu: 'neutral', pos: 'positive', negative: 'negative', neutral: 'neutral', positive: 'positive' };

export const taskLabels: Record<AnalysisTask, readonly string[]> = {
  sentiment: ['negative', 'neutral', 'positive'],
  genre: ['business', 'entertainment', 'politics', 'sport', 'tech'],
};

/** Curator's name for a model's label. */
export function curatorLabel(task: AnalysisTask, modelLabel: string): string {
  const lower = modelLabel.trim().toLowerCase();
  if (task === 'sentiment') return sentimentNames[lower] ?? lower;
  return lower;
}

/** Labels in class-id order from config.json's id2label. */
export function labelsFromConfig(task: AnalysisTask, id2label: unknown): string[] | undefined {
  if (!id2label || typeof id2label !== 'object') return undefined;
  const entries = Object.entries(id2label as Record<string, unknown>);
  const ids = entries.map(([id]) => Number(id));
  if (entries.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0) || entries.some(([, label]) => typeof label !== 'string')) return undefined;
  const labels: string[] = new Array(entries.length);
  for (const [id, label] of entries) {
    const index = Number(id);
    if (index >= entries.length) return undefined;
    labels[index] = curatorLabel(task, label as string);
  }
  return labels;
}

/** Softmax in float64: stable however large the logits and exact enough for scores that must sum to 1. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}
