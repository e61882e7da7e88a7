"""Weekly KPI and cost report: query Prometheus and Cloudflare, post one message to Slack.

Standard library only (runs in the plain python image). Exit codes: 0 posted (or printed),
1 Prometheus or Slack failed (the Job fails and KubeJobFailed alerts), 2 bad arguments.
--input <file> reads the Prometheus query results from a JSON file instead of Prometheus (tests);
--print writes the message to stdout instead of posting it.

Edge figures (source "cloudflare-health-checks"): the events of the origin's health check from
Cloudflare's GraphQL Analytics API (healthCheckEventsAdaptiveGroups), one query per day (adaptive
datasets answer at most a day per query), with the token in --cloudflare-token-file (Analytics:Read
and Zone:Read on the zone). Without a token, or when Cloudflare fails, they read "no data" with the
reason; the rest of the report is still posted. CLOUDFLARE_API_URL overrides the API (tests).
"""
import argparse
import datetime
import json
import os
import sys
import urllib.parse
import urllib.request

HEALTH_QUERY = """query ($zoneTag: string, $start: Time, $end: Time) {
  viewer {
    zones(filter: {zoneTag: $zoneTag}) {
      healthCheckEventsAdaptiveGroups(limit: 10000, filter: {datetime_geq: $start, datetime_lt: $end}) {
        count
        dimensions { healthCheckName healthStatus }
      }
    }
  }
}"""


def query(prometheus, expr):
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body.get('error')}: {expr}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def cloudflare(api, token, method, path, body=None):
    req = urllib.request.Request(
        f"{api}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def edge_figures(spec, token, now):
    """Uptime (percent) and downtime (minutes) of the origin's health check over spec["days"] days."""
    api = os.environ.get("CLOUDFLARE_API_URL", "https://api.cloudflare.com/client/v4").rstrip("/")
    zones = cloudflare(api, token, "GET", f"/zones?{urllib.parse.urlencode({'name': spec['zone']})}")
    if not zones.get("success") or not zones.get("result"):
        raise RuntimeError(f"zone {spec['zone']} not found for this token")
    zone_id = zones["result"][0]["id"]
    healthy = total = 0
    for d in range(spec["days"]):
        end = now - datetime.timedelta(days=d)
        start = end - datetime.timedelta(days=1)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = cloudflare(api, token, "POST", "/graphql", {"query": HEALTH_QUERY, "variables": {"zoneTag": zone_id, "start": iso(start), "end": iso(end)}})
        if body.get("errors"):
            raise RuntimeError(f"GraphQL: {body['errors'][0].get('message')}")
        for zone in body["data"]["viewer"]["zones"]:
            for group in zone["healthCheckEventsAdaptiveGroups"]:
                if group["dimensions"]["healthCheckName"] != spec["healthCheck"]:
                    continue
                total += group["count"]
                if group["dimensions"]["healthStatus"] == "healthy":
                    healthy += group["count"]
    if total == 0:
        raise RuntimeError(f"no events of the health check {spec['healthCheck']}")
    share = healthy / total
    return {"edge_uptime": 100 * share, "edge_downtime": (1 - share) * spec["days"] * 24 * 60}


def fmt(value, unit):
    if value is None or value != value:  # no data, or NaN
        return "no data"
    if unit == "percent":
        return f"{value:.3f} %"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value / 60:.1f} min"
    if unit == "rps":
        return f"{value:.1f} req/s"
    if unit == "usd":
        return f"{value:.4f} USD"
    if unit == "minutes":
        return f"{value:.1f} min"
    return f"{value:.0f}"


def meets(value, target):
    if value is None or value != value or not target:
        return None
    op, _, bound = target.partition(" ")
    bound = float(bound)
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]


def message(environment, queries, values, notes=()):
    lines = [f"*Weekly LMS report ({environment})*"]
    for q in queries:
        v = q["value"] if "value" in q else values.get(q["key"])
        ok = meets(v, q.get("target"))
        mark = "" if ok is None else (" :white_check_mark:" if ok else " :warning:")
        target = f" (target {q['target']})" if q.get("target") else ""
        lines.append(f"- {q['title']}: {fmt(v, q['unit'])}{target}{mark}")
    lines.extend(f"_{n}_" for n in notes)
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--queries", required=True)
    p.add_argument("--webhook-file")
    p.add_argument("--input")
    p.add_argument("--cloudflare-token-file")
    p.add_argument("--now", help="end of the reported week, ISO 8601 UTC (default: now)")
    p.add_argument("--print", action="store_true")
    a = p.parse_args()
    spec = json.load(open(a.queries))
    now = datetime.datetime.fromisoformat(a.now.replace("Z", "+00:00")) if a.now else datetime.datetime.now(datetime.timezone.utc)
    now = now.astimezone(datetime.timezone.utc).replace(second=0, microsecond=0)
    try:
        prom = [q for q in spec["queries"] if q.get("source", "prometheus") == "prometheus" and "value" not in q]
        if a.input:
            values = json.load(open(a.input))
        else:
            prometheus = os.environ.get("PROMETHEUS_URL")
            if not prometheus:
                print("PROMETHEUS_URL is not set", file=sys.stderr)
                return 2
            values = {q["key"]: query(prometheus, q["expr"]) for q in prom}
        notes = []
        if any(q.get("source") == "cloudflare-health-checks" for q in spec["queries"]):
            token = ""
            if a.cloudflare_token_file and os.path.exists(a.cloudflare_token_file):
                token = open(a.cloudflare_token_file).read().strip()
            if not token:
                notes.append("Edge figures: no Cloudflare token (Secret of cost.weeklyReport.cloudflareToken)")
            else:
                try:
                    values.update(edge_figures(spec["cloudflare"], token, now))
                except Exception as e:  # the rest of the report is still worth posting
                    print(f"edge figures failed: {e}", file=sys.stderr)
                    notes.append(f"Edge figures: Cloudflare failed ({e})")
        text = message(spec["environment"], spec["queries"], values, notes)
        if a.print:
            print(text)
            return 0
        if not a.webhook_file:
            print("--webhook-file is required unless --print", file=sys.stderr)
            return 2
        webhook = open(a.webhook_file).read().strip()
        req = urllib.request.Request(webhook, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            if resp.status != 200:
                raise RuntimeError(f"Slack answered HTTP {resp.status}")
        print("posted weekly report")
        return 0
    except Exception as e:  # one clear line in the Job log
        print(f"weekly report failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
