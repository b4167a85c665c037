#!/usr/bin/python3
"""bench/llm_peer.py — the peer for bench/llm.sh: the same chat call N times with Python
requests (one keep-alive Session), plain JSON or SSE streaming parsed line by line the way
OpenAI-style clients do. Prints the same JSON as `stepd ai chat --bench`."""
import json
import sys
import time

import requests

url, model, message, n, stream = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
s = requests.Session()
body = {"model": model, "messages": [{"role": "user", "content": message}]}
if stream:
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
lat, failed, nbytes = [], 0, 0
t0 = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    try:
        r = s.post(url + "/chat/completions", json=body, stream=stream, timeout=30)
        r.raise_for_status()
        if stream:
            text = []
            for line in r.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    continue  # read on to the end so the connection is reused
                chunk = json.loads(data)
                for c in chunk.get("choices") or []:
                    d = c.get("delta", {}).get("content")
                    if d:
                        text.append(d)
            nbytes += len("".join(text))
        else:
            nbytes += len(r.json()["choices"][0]["message"]["content"])
    except Exception:
        failed += 1
    lat.append((time.perf_counter() - t) * 1000)
secs = time.perf_counter() - t0
lat.sort()
print(json.dumps({"calls": n, "seconds": round(secs, 3), "callsPerSec": round(n / secs, 1),
                  "p50Ms": round(lat[n // 2], 3), "p99Ms": round(lat[min(int(n * 0.99), n - 1)], 3),
                  "failed": failed, "bytes": nbytes}))
