"""In-cluster reader (run in the e2e client pod): every key under PREFIX through BASE_URL with
paged scans; prints {key: value} as JSON. Retries a page a few times while the cluster settles.
Usage: python3 - BASE_URL PREFIX"""

import base64
import json
import sys
import time
import urllib.parse
import urllib.request

base, prefix = sys.argv[1], sys.argv[2]
out, token = {}, None
while True:
    query = {"prefix": prefix, "limit": "500"}  # under any max_scan_limit a test sets
    if token:
        query["continue"] = token
    url = f"{base}/kv?{urllib.parse.urlencode(query)}"
    for attempt in range(10):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                page = json.load(response)
            break
        except Exception:
            if attempt == 9:
                raise
            time.sleep(1)
    for item in page["items"]:
        out[item["key"]] = base64.b64decode(item["value"]).decode()
    token = page.get("next")
    if not token:
        break
json.dump(out, sys.stdout)
