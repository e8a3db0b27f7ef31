/**
 * Hostile raw-TCP peers for the fault lab, run as a plain node child process so the attack
 * does not share the event loop of the server under test (which runs in the jest process).
 *
 *   node attacker.mjs '<json>'
 *
 * Modes (`mode` in the JSON):
 *  - slowloris {host, port, count, batch}: opens `count` connections (in batches), never sends a
 *    byte; prints {evt:'connected', n} once all are open, then {evt:'done', closes:[ms...], data}
 *    when the server has closed them all (ms = close − connect, per connection).
 *  - flood {host, port, id, ms, again}: a valid hello, then `{"$hb":"ping"}` frames as fast as the
 *    socket takes them, reading and discarding what comes back; prints {evt:'welcome'} (first
 *    link), {evt:'stats', sent, pongs} every 500 ms and {evt:'done', sent, pongs, links, cut}
 *    after `ms`. With `again`, a link the server cuts is replaced at once by a new one, so the
 *    attack lasts the whole `ms`; `cut` counts links closed by the server, `links` all links.
 *  - churn {host, port, count, batch}: opens connections and destroys them abruptly; one in two
 *    completes the handshake first (a unique nodeId each), one in four sends half a frame, one in
 *    three is reset (RST) rather than closed (FIN);
 *    prints {evt:'done', opened, welcomed}.
 * Every line is JSON with `t` (epoch ms).
 */
import net from 'node:net';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const print = (o) => process.stdout.write(`${JSON.stringify({ ...o, t: Date.now() })}\n`);
const frame = (o) => {
  const json = JSON.stringify(o);
  return `${json.length}#${json}`;
};
const hello = (id) => frame({ $hb: 'hello', v: 1, id, meta: { role: 'attacker' } });

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: cfg.host, port: cfg.port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function slowloris() {
  const closes = [];
  let data = 0;
  let closed = 0;
  let failed = 0;
  const all = [];
  const started = Date.now();
  for (let i = 0; i < cfg.count; i += cfg.batch) {
    const batch = [];
    for (let j = i; j < Math.min(cfg.count, i + cfg.batch); j++) {
      batch.push(connect().then((s) => {
        const at = Date.now();
        s.on('data', (d) => (data += d.length));
        s.on('error', () => undefined);
        all.push(new Promise((resolve) => s.once('close', () => {
          closes.push(Date.now() - at);
          closed++;
          resolve();
        })));
      }, () => failed++));
    }
    await Promise.all(batch);
  }
  print({ evt: 'connected', n: all.length, failed, connectMs: Date.now() - started });
  await Promise.all(all);
  print({ evt: 'done', closes, data, failed });
}

async function flood() {
  let pongs = 0;
  let sent = 0;
  let links = 0;
  let cut = 0;
  let stopping = false;
  let current;
  const stats = setInterval(() => print({ evt: 'stats', sent, pongs, links, cut }), 500);
  const over = new Promise((resolve) => setTimeout(resolve, cfg.ms));
  void over.then(() => {
    stopping = true;
    current?.destroy();
  });
  let seq = 0;
  // One link: hello, flood after the welcome; resolves when it closes (true: the server closed it).
  const link = async () => {
    const s = await connect();
    if (stopping) { // the window ended while this link was connecting
      s.destroy();
      return false;
    }
    current = s;
    links++;
    let welcome = false;
    let pending = '';
    s.setNoDelay(true);
    s.on('error', () => undefined);
    const pump = () => {
      while (!stopping && !s.destroyed) {
        let chunk = '';
        for (let k = 0; k < 500; k++) chunk += frame({ $hb: 'ping', seq: ++seq, t: Date.now() });
        sent += 500;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    s.on('data', (d) => {
      if (!welcome) {
        pending += d.toString();
        if (pending.includes('"welcome"')) {
          welcome = true;
          if (links === 1) print({ evt: 'welcome' });
          pump();
        }
        return;
      }
      // Count pongs without parsing every frame: each carries "pong" once.
      const text = d.toString('latin1');
      for (let i = text.indexOf('pong'); i !== -1; i = text.indexOf('pong', i + 4)) pongs++;
    });
    s.write(hello(cfg.id ?? 'flooder'));
    await new Promise((resolve) => s.once('close', resolve));
    return !stopping;
  };
  do {
    if (await link()) cut++;
  } while (cfg.again && !stopping);
  await over;
  clearInterval(stats);
  print({ evt: 'done', sent, pongs, links, cut });
}

async function churn() {
  let opened = 0;
  let welcomed = 0;
  for (let i = 0; i < cfg.count; i += cfg.batch) {
    const batch = [];
    for (let j = i; j < Math.min(cfg.count, i + cfg.batch); j++) {
      batch.push(connect().then(async (s) => {
        opened++;
        s.on('error', () => undefined);
        if (j % 2 === 0) {
          await new Promise((resolve) => {
            let text = '';
            const timer = setTimeout(resolve, 2000);
            s.on('data', (d) => {
              text += d.toString();
              if (text.includes('"welcome"')) {
                welcomed++;
                clearTimeout(timer);
                resolve();
              }
            });
            s.write(hello(`churn-${process.pid}-${j}`));
          });
        }
        if (j % 4 === 1) s.write('1000#{"pattern":"echo","data":"'); // half a frame
        if (j % 3 === 0) s.resetAndDestroy(); // RST
        else s.destroy(); // FIN, no goodbye
      }, () => undefined));
    }
    await Promise.all(batch);
  }
  print({ evt: 'done', opened, welcomed });
}

const modes = { slowloris, flood, churn };
await modes[cfg.mode]();
process.exit(0);
