/**
 * The API server arguments the bootstrap gives k3s (bootstrap/host/k3s.ts), in force on the real
 * kube-apiserver the harness starts with them (test/cluster/support/control-plane.ts): EventRateLimit
 * with the limits from the AdmissionConfiguration's EventRateLimit file, and service-account tokens
 * that are not silently extended.
 */
import { describe, expect, it } from 'vitest';
import { eventRateLimits } from '../../bootstrap/host/k3s.ts';
import { ApiError } from './support/kube.ts';
import { goodPodSpec, podBearing } from './support/probes.ts';
import { connect } from './support/session.ts';

describe('k3s hardening arguments on the real API server', () => {
  it('EventRateLimit: a burst of Events beyond the namespace limit is refused with 429 "limit reached"', async () => {
    const kube = await connect();
    const ns = `lms-erl-probe-${process.pid}`;
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const namespaceLimit = eventRateLimits.find((l) => l.type === 'Namespace')!;
    const attempts = namespaceLimit.burst * 2;
    const event = (i: number) => ({
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `flood-${i}`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'flood-source', namespace: ns },
      reason: 'Flood', message: `event ${i}`, type: 'Normal',
      firstTimestamp: new Date().toISOString(), lastTimestamp: new Date().toISOString(), count: 1,
    });
    const results = await Promise.all(Array.from({ length: attempts }, (_, i) => kube.create(event(i)).then(() => 201, (e: unknown) => {
      if (e instanceof ApiError) return { status: e.status, message: String(e.statusMessage ?? '') };
      throw e;
    })));
    const refused = results.filter((r): r is { status: number; message: string } => typeof r === 'object');
    const accepted = results.length - refused.length;
    // About a burst's worth goes through (plus what refills while the requests run), the rest is refused.
    expect(accepted).toBeGreaterThanOrEqual(namespaceLimit.burst / 2);
    expect(accepted).toBeLessThan(attempts);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.message).toMatch(/limit reached on type (Namespace|User|Server)/);
    }
    await kube.delete('v1', 'Namespace', ns);
  });

  it('service-account-extend-token-expiration=false: a pod-bound token lives as long as asked, not a year', async () => {
    const kube = await connect();
    const ns = `lms-sa-probe-${process.pid}`;
    await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await kube.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'probe', namespace: ns } });
    const pod = (await kube.create(podBearing('Pod', ns, 'token-probe', { ...goodPodSpec(), serviceAccountName: 'probe' }))).body;
    // 3607 s and a pod-bound request for the API server's audience: exactly what the kubelet asks for
    // projected tokens, and the one case the API server would extend to a year (pkg/serviceaccount).
    const seconds = 3607;
    const res = await kube.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/probe/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: seconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    });
    expect(res.status).toBe(201);
    const payload = JSON.parse(Buffer.from(String(res.body.status.token).split('.')[1]!, 'base64url').toString('utf8'));
    expect(payload['kubernetes.io'].pod.name).toBe('token-probe');
    expect(payload.exp - payload.iat).toBe(seconds);
    await kube.delete('v1', 'Namespace', ns);
  });
});
