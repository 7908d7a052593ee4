// `npm run models:test [-- <modelsDir> [role...]]`: writes the generated test models.
import { loadEnv } from '@curator/config';
import { ensureTestModels, testModelRoles, type TestModelRole } from './test-set.ts';

const [dir = loadEnv().MODELS_DIR, ...roles] = process.argv.slice(2);
const wanted = (roles.length > 0 ? roles : testModelRoles) as TestModelRole[];
for (const role of wanted) if (!testModelRoles.includes(role)) throw new Error(`Unknown role ${role}; one of ${testModelRoles.join(', ')}`);
const written = await ensureTestModels(dir, wanted, (role) => console.log(`writing ${role} test model`));
for (const [role, path] of Object.entries(written)) console.log(`${role}: ${path}`);
