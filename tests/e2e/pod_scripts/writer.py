"""In-cluster writer (run in the e2e client pod): PUT PREFIX<i> = v<i> through the client
Service, one at a time, until the stop file appears or max_seconds pass. Prints one JSON object:
attempts, acknowledged indexes, failures by HTTP status or error, and the uncertain indexes
(503 outcome_unknown and transport errors: the write may or may not have been applied).
Usage: python3 - BASE_URL PREFIX MAX_SECONDS STOP_FILE"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

base, prefix, max_seconds, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
progress = f"/tmp/{prefix}progress"
acked, uncertain, failures = [], [], {}
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < max_seconds and not os.path.exists(stop):
    request = urllib.request.Request(
        f"{base}/kv/{prefix}{i:06d}", data=f"v{i}".encode(), method="PUT"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            outcome = str(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        outcome = str(error.code)
    except Exception as error:  # connection refused/reset, timeout: outcome unknown
        outcome = type(error).__name__
    if outcome == "200":
        acked.append(i)
    else:
        failures[outcome] = failures.get(outcome, 0) + 1
        if not outcome.startswith("4"):
            uncertain.append(i)
        time.sleep(0.2)  # back off a little while the cluster is unavailable
    i += 1
    if i % 5 == 0:
        with open(progress + ".new", "w") as f:
            json.dump({"attempts": i, "acked": len(acked)}, f)
        os.replace(progress + ".new", progress)
    time.sleep(0.02)
json.dump(
    {
        "attempts": i,
        "acked": acked,
        "failures": failures,
        "uncertain": uncertain,
        "seconds": round(time.monotonic() - t0, 1),
    },
    sys.stdout,
)
