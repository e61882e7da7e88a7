// Test helper run inside a network namespace: accepts TCP on each port given and answers "<port>\n".
// Prints "ready" once every port listens. Exits when stdin closes (the test ends it).
import net from 'node:net';

const ports = process.argv.slice(2).map(Number);
let listening = 0;
for (const port of ports) {
  const server = net.createServer((sock) => sock.end(`${port}\n`));
  server.on('error', (e) => { process.stderr.write(`listen ${port}: ${e.message}\n`); process.exit(1); });
  server.listen(port, '0.0.0.0', () => { if (++listening === ports.length) process.stdout.write('ready\n'); });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
