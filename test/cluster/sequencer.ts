/**
 * Runs the cluster test files in name order (they share one cluster: 10-apply first, the canary
 * last), instead of vitest's duration-based order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export default class NameOrderSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}
