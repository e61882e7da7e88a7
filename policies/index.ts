/** Every admission policy of the cluster, parameterised by config (see README.md). */
import { appPodHardening } from './app-pod-hardening.ts';
import { imageProvenance } from './image-provenance.ts';
import { resourcesRequired } from './resources-required.ts';
import { serviceExposure } from './service-exposure.ts';
import type { AdmissionPolicy, PolicyContext } from './types.ts';

export type { AdmissionPolicy, PolicyContext } from './types.ts';

export const admissionPolicies = (ctx: PolicyContext): AdmissionPolicy[] => [
  imageProvenance(ctx),
  resourcesRequired(ctx),
  appPodHardening(ctx),
  serviceExposure(ctx),
];
