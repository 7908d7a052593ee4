// Evaluated before anything parses (main.tsx imports it first). Zod compiles fast object parsers with
// `new Function` when it may; the studio's CSP forbids eval (and Trusted Types would report the
// attempt), so zod is told to parse without compiling.
import { z } from 'zod';

z.config({ jitless: true });
