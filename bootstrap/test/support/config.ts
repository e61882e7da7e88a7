/** Test configs: values.ts with overrides deep-merged, validated like the real thing. */
import { deepMerge, parseConfig } from '../../../charts-ts/config/load.ts';
import type { Config } from '../../../charts-ts/config/schema.ts';
import { values } from '../../../charts-ts/config/values.ts';

export const testConfig = (patch: unknown = {}): Config => parseConfig(deepMerge(values, patch));

/** The repository root, and tools on PATH the way setup installs them. */
export const repoRoot = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');
process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
