"""Peer for bench/events.sh: the same durable chat flow in Python (stdlib only), the way a
Python backend would write it without a framework: a threaded HTTP server stores the chat and
enqueues the event in one SQLite transaction (WAL, synchronous=NORMAL) and answers 202; a worker
thread claims queued events in batches, completes each chat and deletes the event.
Run: /usr/bin/python3 flow.py PORT DBFILE"""
import json, sqlite3, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DB = int(sys.argv[1]), sys.argv[2]
local = threading.local()

def conn():
    c = getattr(local, "c", None)
    if c is None:
        c = sqlite3.connect(DB, timeout=30, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        local.c = c
    return c

c = conn()
c.execute("CREATE TABLE IF NOT EXISTS state(grp TEXT, key TEXT, value TEXT, PRIMARY KEY(grp, key))")
c.execute("CREATE TABLE IF NOT EXISTS queue(seq INTEGER PRIMARY KEY, topic TEXT, data TEXT)")
wake = threading.Event()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        try:
            body = json.loads(self.rfile.read(n))
            msg = body["message"]
        except Exception:
            return self.reply(400, {"error": "bad body"})
        cid = uuid.uuid4().hex
        t0 = int(time.time() * 1e6)
        db = conn()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO state VALUES('chats', ?, ?)",
                   (cid, json.dumps({"chatId": cid, "message": msg, "status": "processing"})))
        db.execute("INSERT INTO queue(topic, data) VALUES('ai.chat.request', ?)",
                   (json.dumps({"chatId": cid, "message": msg, "t0": t0}),))
        db.execute("COMMIT")
        wake.set()
        self.reply(202, {"chatId": cid})
    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

def worker():
    db = conn()
    while True:
        rows = db.execute("SELECT seq, data FROM queue ORDER BY seq LIMIT 256").fetchall()
        if not rows:
            wake.wait(0.05)
            wake.clear()
            continue
        db.execute("BEGIN IMMEDIATE")
        for seq, data in rows:
            ev = json.loads(data)
            chat = json.loads(db.execute("SELECT value FROM state WHERE grp='chats' AND key=?",
                                         (ev["chatId"],)).fetchone()[0])
            chat.update(status="completed", response="ok", t0=ev["t0"], t1=int(time.time() * 1e6))
            db.execute("UPDATE state SET value=? WHERE grp='chats' AND key=?",
                       (json.dumps(chat), ev["chatId"]))
            db.execute("DELETE FROM queue WHERE seq=?", (seq,))
        db.execute("COMMIT")

threading.Thread(target=worker, daemon=True).start()
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
