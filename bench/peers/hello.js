// Peer for bench/http.sh: the same trivial JSON endpoint on Node's own http module
// (what Express, and so Motia, is built on), one process.
const http = require('http');
const port = +process.argv[2];
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/hello') {
    const body = JSON.stringify({ hello: 'world' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else { res.writeHead(404); res.end(); }
}).listen(port, '127.0.0.1');
