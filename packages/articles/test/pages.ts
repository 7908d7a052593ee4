// Generated pages for the extraction tests and benchmark: pathological shapes and a large page shaped
// like a real news site's (inline scripts, navigation, an article, a long comment thread, a footer).

const sentence = 'The harbour committee met again on Thursday to weigh the cost of the new sea wall against the insurance savings. ';

/** `count` `<div>`s nested in each other around one paragraph (100,000 of them is 1.1 MB). */
export function nestedDivsPage(count: number): string {
  return `<!doctype html><html><head><title>Deep</title></head><body>${'<div>'.repeat(count)}<p>${sentence.repeat(4)}</p>${'</div>'.repeat(count)}</body></html>`;
}

/**
 * A page at the limits: chains of `depth` nested elements, as many as fit in `nodes` elements, each
 * ending in a paragraph. The worst shape for Readability that the limits let through.
 */
export function limitShapedPage(depth: number, nodes: number): string {
  // html, head, title, body, plus one <p> per chain.
  const chains = Math.max(1, Math.floor((nodes - 4) / (depth - 2)));
  const chainDepth = depth - 3;
  const chain = `${'<div>'.repeat(chainDepth)}<p>${sentence}</p>${'</div>'.repeat(chainDepth)}`;
  return `<!doctype html><html><head><title>Limits</title></head><body>${chain.repeat(chains)}</body></html>`;
}

function script(bytes: number, seed: number): string {
  const entries: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const entry = `{"id":"${seed}-${i}","slot":"ad-${i % 37}","targeting":{"section":"news","tags":["harbour","council","${i}"]},"sizes":[[300,250],[728,90]]}`;
    entries.push(entry);
    size += entry.length + 1;
  }
  return `<script>window.__STATE_${seed}__=[${entries.join(',')}];</script>`;
}

function links(count: number, prefix: string): string {
  return Array.from({ length: count }, (_, i) => `<li class="nav-item"><a href="/${prefix}/${i}" class="nav-link">${prefix} section ${i}</a></li>`).join('');
}

function comment(i: number): string {
  return (
    `<div class="comment" id="c${i}"><div class="comment-header"><span class="avatar"><img src="/a/${i}.png" alt=""></span>` +
    `<span class="author"><a href="/u/${i}">reader${i}</a></span><time datetime="2026-05-01T10:${String(i % 60).padStart(2, '0')}">10:${i % 60}</time></div>` +
    `<div class="comment-body"><p>COMMENT ${i}: I live by the harbour and ${sentence}</p></div>` +
    `<div class="comment-actions"><button>Reply</button><button>Like</button><a href="#c${i}">Link</a></div></div>`
  );
}

/**
 * About `bytes` of HTML shaped like a large real article page: 40% inline scripts (ad config, app
 * state), a navigation of a few hundred links, the article (30 paragraphs) nested 20 levels deep in
 * layout divs, related-story lists and a comment thread that fills the rest, and a footer.
 */
export function realShapedPage(bytes: number): string {
  const head = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Harbour town votes to rebuild its flooded sea wall | The Coastal Courier</title>
<meta property="og:site_name" content="The Coastal Courier"><meta name="author" content="Maria Okafor">
<style>${'.nav-item{display:inline-block;margin:0 4px}.comment{border-top:1px solid #ddd;padding:8px}'.repeat(200)}</style>
${script(Math.floor(bytes * 0.2), 1)}</head>`;
  const layoutOpen = '<div class="layout"><div class="container"><div class="row"><div class="col"><div class="main-wrapper"><div class="content-area"><div class="story-wrapper"><div class="story">';
  const layoutClose = '</div></div></div></div></div></div></div></div>';
  const article =
    `<article><header><h1>Harbour town votes to rebuild its flooded sea wall</h1><p class="byline">By Maria Okafor</p></header>` +
    Array.from({ length: 30 }, (_, i) => `<p>Paragraph ${i + 1}. ${sentence.repeat(3)}</p>`).join('') +
    `</article>`;
  const nav = `<header class="site-header"><nav><ul>${links(300, 'news')}</ul></nav></header>`;
  const related = `<aside class="related"><h2>Related</h2><ul>${links(100, 'related')}</ul></aside>`;
  const footer = `<footer><ul>${links(150, 'footer')}</ul><p>FOOTER © The Coastal Courier</p></footer>${script(Math.floor(bytes * 0.2), 2)}`;
  const fixed = head.length + nav.length + layoutOpen.length + article.length + layoutClose.length + related.length + footer.length + 64;
  const comments: string[] = [];
  let size = 0;
  for (let i = 0; fixed + size < bytes; i++) {
    const next = comment(i);
    comments.push(next);
    size += next.length;
  }
  return `${head}<body>${nav}${layoutOpen}${article}<section class="comments">${comments.join('')}</section>${layoutClose}${related}${footer}</body></html>`;
}
