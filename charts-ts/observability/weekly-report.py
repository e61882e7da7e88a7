"""Weekly KPI and cost report: query Prometheus, post one message to Slack.

Standard library only (runs in the plain python image). Exit codes: 0 posted (or printed),
1 Prometheus or Slack failed (the Job fails and KubeJobFailed alerts), 2 bad arguments.
--input <file> reads query results from a JSON file instead of Prometheus (tests);
--print writes the message to stdout instead of posting it.
"""
import argparse
import json
import os
import sys
import urllib.parse
import urllib.request


def query(prometheus, expr):
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body.get('error')}: {expr}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


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
    return f"{value:.0f}"


def meets(value, target):
    if value is None or value != value or not target:
        return None
    op, _, bound = target.partition(" ")
    bound = float(bound)
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]


def message(environment, queries, values):
    lines = [f"*Weekly LMS report ({environment})*"]
    for q in queries:
        v = values.get(q["key"])
        ok = meets(v, q.get("target"))
        mark = "" if ok is None else (" :white_check_mark:" if ok else " :warning:")
        target = f" (target {q['target']})" if q.get("target") else ""
        lines.append(f"- {q['title']}: {fmt(v, q['unit'])}{target}{mark}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--queries", required=True)
    p.add_argument("--webhook-file")
    p.add_argument("--input")
    p.add_argument("--print", action="store_true")
    a = p.parse_args()
    spec = json.load(open(a.queries))
    try:
        if a.input:
            values = json.load(open(a.input))
        else:
            prometheus = os.environ.get("PROMETHEUS_URL")
            if not prometheus:
                print("PROMETHEUS_URL is not set", file=sys.stderr)
                return 2
            values = {q["key"]: query(prometheus, q["expr"]) for q in spec["queries"]}
        text = message(spec["environment"], spec["queries"], values)
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
