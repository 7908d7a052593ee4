/** Stage names as the API reports them, in words; an unknown stage shows its API name. */
const stageLabels: Record<string, string> = {
  extract: 'Read the article',
  sentiment: 'Sentiment',
  genre: 'Genre',
  summarize: 'Summary',
  headline: 'Headline',
  image: 'Picture',
  card: 'Card',
};

export const stageLabel = (name: string): string => stageLabels[name] ?? name;

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const shortId = (id: string): string => id.slice(0, 8);

export const statusLabels: Record<string, string> = {
  queued: 'Waiting for a worker',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  canceled: 'Canceled',
  expired: 'Expired',
};

export const statusLabel = (status: string): string => statusLabels[status] ?? status;
