/** The committed C4 diagrams are exactly what the model generates (run `npm run docs` to refresh). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { architectureDocs } from '../../charts-ts/lib/c4.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { renderAll } from '../support/render.ts';

const generate = (overrides?: unknown) => {
  const r = renderAll(overrides);
  return architectureDocs(r.config, r.objects.map((o) => o.object));
};

describe('docs/architecture', () => {
  const docs = generate();

  it.each(Object.keys(docs))('%s is current (run `npm run docs` if this fails)', (file) => {
    expect(readFileSync(join(repoRoot, 'docs', 'architecture', file), 'utf8')).toBe(docs[file]);
  });

  it('shows every workload and the flows the NetworkPolicies allow', () => {
    const c = docs['containers.md'];
    for (const ns of ['lms-staging', 'lms-production']) {
      expect(c).toContain(`Container(${ns.replace('-', '_')}_lms_api, "lms-api"`);
      expect(c).toContain(`Container(${ns.replace('-', '_')}_lms_web, "lms-web"`);
      expect(c).toMatch(new RegExp(`ContainerDb\\(${ns.replace('-', '_')}_lms_db, "lms-db", "CloudNativePG`));
    }
    expect(c).toMatch(/Rel\(traefik, lms_production_lms_api, "routes to"/);
    expect(c).toMatch(/Rel\(lms_production_lms_api, lms_production_(lms_db_pooler_rw|lms_db), "connects", "TCP 5432"\)/);
    expect(c).toMatch(/Rel\(lms_production_lms_db, object_storage/);
  });

  it('follows the model: a config change changes the diagram', () => {
    const changed = generate({ environments: { production: { apps: { api: { hpa: { min: 3, max: 9 } } } } } });
    expect(changed['containers.md']).toContain('HPA 3-9');
    expect(docs['containers.md']).not.toContain('HPA 3-9');
    const renamed = generate({ cluster: { node: { hostname: 'lms-prod-2' } } });
    expect(renamed['context.md']).toContain('Contabo VPS lms-prod-2');
  });
});
