/**
 * Micro-benchmark behind bench/analysis/b2.md ("strings versus Buffers is not it"): 20,000 ping-sized
 * control frames written over 200 loopback sockets, as a string (`socket.write(str, 'utf8')`, what
 * HeartbeatSocket does) and as a Buffer (what ws does), 7 alternated rounds, median µs per write
 * (system call included). `node bench/b2/write-string-vs-buffer.mjs`
 */
import net from 'node:net';
const N = 20000, R = 7;
const conns = [];
const srv = net.createServer((c) => { c.on('data', () => {}); }).listen(0, '127.0.0.1');
await new Promise((r) => srv.once('listening', r));
const clients = [];
for (let i = 0; i < 200; i++) { const s = net.connect(srv.address().port, '127.0.0.1'); s.setNoDelay(true); await new Promise((r) => s.once('connect', r)); clients.push(s); }
const t0 = 1764661234567.891;
function runStr() { const a = performance.now(); for (let i = 0; i < N; i++) { const s = clients[i % 200]; const json = `{"$hb":"ping","seq":${i},"t":${t0 + i / 1000}}`; s.write(`${json.length}#${json}`, 'utf8'); } return (performance.now() - a) * 1000 / N; }
function runBuf() { const a = performance.now(); for (let i = 0; i < N; i++) { const s = clients[i % 200]; const json = `{"$hb":"ping","seq":${i},"t":${t0 + i / 1000}}`; s.write(Buffer.from(`${json.length}#${json}`, 'latin1')); } return (performance.now() - a) * 1000 / N; }
const res = { str: [], buf: [] };
for (let r = 0; r < R; r++) { res.str.push(runStr()); await new Promise((x) => setTimeout(x, 200)); res.buf.push(runBuf()); await new Promise((x) => setTimeout(x, 200)); }
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log('µs per write: string', med(res.str).toFixed(2), 'Buffer', med(res.buf).toFixed(2));
for (const c of clients) c.destroy(); srv.close();
