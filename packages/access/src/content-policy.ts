import { readFileSync } from 'node:fs';
import { RE2JS } from 're2js';
import { z } from 'zod';
import { CuratorError } from '@curator/contracts';
import type { KeyContentPolicy } from './keys.ts';

/** Terms and patterns a policy refuses. */
export interface ContentRules {
  terms: readonly string[];
  patterns: readonly string[];
}

/** A text to check and the field it came from (`input.prompt`, `jobs.2.params.imagePrefix`, `summary`). */
export interface ContentField {
  path: string;
  text: string;
}

/** Anything that checks fields: a compiled policy, or a deployment's policy combined with a key's. */
export interface ContentCheck {
  readonly empty: boolean;
  check(fields: readonly ContentField[]): ContentViolation | null;
}

export interface ContentViolation {
  path: string;
  rule: 'term' | 'pattern';
  /** The term or pattern that matched: for the operator's logs, never for the caller. */
  matched: string;
}

/** Longest term, in letters and digits, that the spaced-out-letters check looks for. */
const maxTermLength = 200;

/**
 * Text as the term check sees it: compatibility forms folded (full-width letters, ligatures),
 * accents and invisible format characters (zero-width spaces and joiners) removed, lower case, and
 * `@`/`$` next to letters and digits inside words read as the letters they stand for.
 */
export function normalizeForTerms(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\p{M}\p{Cf}]/gu, '')
    .toLowerCase()
    .replace(/(?<=\p{L})[@$]|[@$](?=\p{L})/gu, (c) => (c === '@' ? 'a' : 's'));
}

const leet: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't' };

/** The words of a normalised text: runs of letters and digits; digits in a word with letters read as letters. */
export function wordsOf(normalized: string): string[] {
  const words = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.map((word) => (/\p{L}/u.test(word) ? word.replace(/[013457]/g, (d) => leet[d]!) : word));
}

/**
 * A compiled policy. A term matches whole words, whatever the case, accents, punctuation or spacing
 * between them ("Bad  word", "bad-word"), written together ("badword"), or spelled out letter by
 * letter ("b a d w o r d", "b.a.d"); never inside another word ("class" does not match "ass").
 * Patterns are RE2 syntax, matched case-insensitively by a linear-time engine (re2js), so no
 * pattern can make a check slow whatever the text; lookarounds and backreferences are refused when
 * the policy is compiled.
 */
export class ContentPolicy implements ContentCheck {
  /** Terms by their first word, for the phrase check. */
  private readonly phrases = new Map<string, string[][]>();
  /** Terms with their words joined, for the joined and spelled-out checks. */
  private readonly joined = new Map<string, string>();
  private readonly patterns: Array<{ source: string; regex: RE2JS }>;
  readonly rules: ContentRules;

  private constructor(rules: ContentRules, patterns: Array<{ source: string; regex: RE2JS }>) {
    this.rules = rules;
    this.patterns = patterns;
    for (const term of rules.terms) {
      const words = wordsOf(normalizeForTerms(term));
      if (words.length === 0) continue;
      const list = this.phrases.get(words[0]!) ?? [];
      list.push(words);
      this.phrases.set(words[0]!, list);
      this.joined.set(words.join(''), term);
    }
  }

  /** Compiles terms and patterns; a pattern RE2 cannot take is a `validation_failed` naming `where` and the pattern. */
  static compile(rules: Partial<ContentRules>, where = 'content policy'): ContentPolicy {
    const terms = [...new Set((rules.terms ?? []).map((t) => t.trim()).filter(Boolean))];
    const patterns = [...new Set(rules.patterns ?? [])].map((source, index) => {
      try {
        return { source, regex: RE2JS.compile(source, RE2JS.CASE_INSENSITIVE) };
      } catch (error) {
        const path = `${where}.patterns.${index}`;
        throw new CuratorError('validation_failed', `Invalid ${path}: ${JSON.stringify(source)} is not an RE2 pattern (${(error as Error).message})`, { details: [{ path, message: (error as Error).message }] });
      }
    });
    return new ContentPolicy({ terms, patterns: patterns.map((p) => p.source) }, patterns);
  }

  static readonly none = ContentPolicy.compile({});

  get empty(): boolean {
    return this.joined.size === 0 && this.patterns.length === 0;
  }

  /**
   * The policy for one key: the deployment's rules plus the key's own, or the key's own alone for
   * a key exempt from the deployment's. Keys' compiled rules are kept (a few hundred at most).
   */
  withKey(key: KeyContentPolicy | null): ContentCheck {
    if (!key || (!key.exempt && key.terms.length === 0 && key.patterns.length === 0)) return this;
    const own = key.terms.length === 0 && key.patterns.length === 0 ? ContentPolicy.none : this.compiledForKey(key);
    if (key.exempt) return own;
    return { empty: this.empty && own.empty, check: (fields) => this.check(fields) ?? own.check(fields) };
  }

  private readonly keyPolicies = new Map<string, ContentPolicy>();

  private compiledForKey(key: KeyContentPolicy): ContentPolicy {
    const id = JSON.stringify([key.terms, key.patterns]);
    let policy = this.keyPolicies.get(id);
    if (!policy) {
      policy = ContentPolicy.compile({ terms: key.terms, patterns: key.patterns }, 'key content policy');
      if (this.keyPolicies.size >= 500) this.keyPolicies.delete(this.keyPolicies.keys().next().value!);
      this.keyPolicies.set(id, policy);
    }
    return policy;
  }

  /** The first field the policy refuses, or null. */
  check(fields: readonly ContentField[]): ContentViolation | null {
    if (this.empty) return null;
    for (const { path, text } of fields) {
      const term = this.matchTerm(text);
      if (term !== null) return { path, rule: 'term', matched: term };
      const normalized = normalizeForTerms(text);
      const pattern = this.patterns.find(({ regex }) => regex.test(text) || regex.test(normalized));
      if (pattern) return { path, rule: 'pattern', matched: pattern.source };
    }
    return null;
  }

  private matchTerm(text: string): string | null {
    if (this.joined.size === 0) return null;
    const words = wordsOf(normalizeForTerms(text));
    for (let i = 0; i < words.length; i++) {
      // A whole word, or words written together ("badword" for "bad word").
      const whole = this.joined.get(words[i]!);
      if (whole !== undefined) return whole;
      // A phrase: its words in a row, whatever separates them.
      for (const phrase of this.phrases.get(words[i]!) ?? []) {
        if (phrase.every((word, j) => words[i + j] === word)) return this.joined.get(phrase.join(''))!;
      }
      // Spelled out: single letters in a row ("b a d", "b.a.d") that spell a term.
      if (words[i]!.length === 1) {
        let spelled = '';
        for (let j = i; j < words.length && words[j]!.length === 1 && spelled.length < maxTermLength; j++) {
          spelled += words[j];
          if (j > i) {
            const found = this.joined.get(spelled);
            if (found !== undefined) return found;
          }
        }
      }
    }
    return null;
  }
}

/** Throws the caller-facing `content_policy` error (422) for a violation; names the field, not the rule. */
export function contentPolicyError(violation: ContentViolation, message?: string): CuratorError {
  const what = violation.rule === 'term' ? 'contains a blocked term' : 'matches a blocked pattern';
  return new CuratorError('content_policy', message ?? `The content policy refuses ${violation.path}: it ${what}`, {
    details: [{ path: violation.path, message: what }],
  });
}

const policyFileSchema = z
  .object({ terms: z.array(z.string().max(200)).max(100_000).default([]), patterns: z.array(z.string().max(1000)).max(1000).default([]) })
  .strict();

/** The deployment's policy from CONTENT_POLICY_TERMS, CONTENT_POLICY_PATTERNS and CONTENT_POLICY_FILE together. */
export function contentPolicyFromEnv(env: { CONTENT_POLICY_TERMS: readonly string[]; CONTENT_POLICY_PATTERNS: readonly string[]; CONTENT_POLICY_FILE?: string | undefined }): ContentPolicy {
  const terms = [...env.CONTENT_POLICY_TERMS];
  const patterns = [...env.CONTENT_POLICY_PATTERNS];
  if (env.CONTENT_POLICY_FILE) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(env.CONTENT_POLICY_FILE, 'utf8'));
    } catch (error) {
      throw new CuratorError('validation_failed', `CONTENT_POLICY_FILE ${env.CONTENT_POLICY_FILE}: ${(error as Error).message}`);
    }
    const file = policyFileSchema.safeParse(parsed);
    if (!file.success) throw new CuratorError('validation_failed', `CONTENT_POLICY_FILE ${env.CONTENT_POLICY_FILE}: ${file.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    terms.push(...file.data.terms);
    patterns.push(...file.data.patterns);
  }
  return ContentPolicy.compile({ terms, patterns }, 'CONTENT_POLICY_PATTERNS');
}

/** Reads a key's own content policy: `KeyStore` does. */
export interface KeyPolicySource {
  contentPolicyFor(owner: string): Promise<KeyContentPolicy | null>;
}

/**
 * The policy that applies to the jobs of `owner` (a key id; null or `anonymous`: the deployment's
 * alone). For workers, which know a job's owner but not its key.
 */
export function policyForOwner(policy: ContentPolicy, keys: KeyPolicySource): (owner: string | null) => Promise<ContentCheck> {
  return async (owner) => {
    if (!owner || owner === 'anonymous') return policy;
    let own: KeyContentPolicy | null;
    try {
      own = await keys.contentPolicyFor(owner);
    } catch (error) {
      throw new CuratorError('queue_unavailable', `Could not read the content policy of this job's API key: ${(error as Error).message}`, { retryable: true, cause: error });
    }
    return policy.withKey(own);
  };
}
