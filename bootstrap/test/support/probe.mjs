// Test helper run inside a network namespace: tries a TCP connection to each port of one address from
// one source address and prints {"<port>": true|false} (true = connected and got the listener's answer).
import net from 'node:net';

const [source, target, timeoutMs, ...ports] = process.argv.slice(2);
const probe = (port) => new Promise((resolve) => {
  const sock = net.connect({ host: target, port: Number(port), localAddress: source });
  const done = (ok) => { sock.destroy(); resolve(ok); };
  sock.setTimeout(Number(timeoutMs), () => done(false));
  sock.on('data', (d) => done(d.toString().trim() !== ''));
  sock.on('error', () => done(false));
});
const results = await Promise.all(ports.map(probe));
process.stdout.write(JSON.stringify(Object.fromEntries(ports.map((p, i) => [p, results[i]]))));
