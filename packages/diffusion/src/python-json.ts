// diffusers writes its config files with Python's json module, which spells non-finite floats as
// bare NaN, Infinity and -Infinity (DPM-Solver's default `lambda_min_clipped` is -inf). JSON.parse
// refuses those tokens, so they are read here as the numbers Python meant.
const tokens: ReadonlyArray<[string, number]> = [
  ['-Infinity', -Infinity],
  ['Infinity', Infinity],
  ['NaN', NaN],
];
const marker = '\u0000python-float:';

export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    let out = '';
    let replaced = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        // Copy a string literal whole, escapes included.
        let end = i + 1;
        while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
        out += text.slice(i, end + 1);
        i = end;
        continue;
      }
      const token = tokens.find(([spelling]) => text.startsWith(spelling, i));
      if (token) {
        out += JSON.stringify(marker + token[0]);
        i += token[0].length - 1;
        replaced = true;
      } else {
        out += c;
      }
    }
    if (!replaced) throw error;
    return JSON.parse(out, (_key, value: unknown) => {
      if (typeof value !== 'string' || !value.startsWith(marker)) return value;
      return tokens.find(([spelling]) => spelling === value.slice(marker.length))![1];
    });
  }
}
