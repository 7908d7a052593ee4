// The embedded S3 server as a process of its own, so a fault test can take S3 away and bring it back
// on the same port and folder: `node test/support/s3-server-main.ts <directory> <port> <bucket>`.
// Prints one JSON line when listening and one per request answered (method, path, status).
import { startEmbeddedS3 } from '@curator/embedded-s3';

const [directory, port, bucket] = process.argv.slice(2);
if (!directory || !port || !bucket) throw new Error('usage: s3-server-main.ts <directory> <port> <bucket>');

const s3 = await startEmbeddedS3({ directory, port: Number(port), host: '127.0.0.1', bucket });
s3.httpServer.on('request', (req, res) => {
  res.once('finish', () => console.log(JSON.stringify({ msg: 's3 request', method: req.method, path: (req.url ?? '/').split('?')[0], status: res.statusCode })));
});
console.log(JSON.stringify({ msg: 's3 listening', endpoint: s3.endpoint }));

process.once('SIGTERM', () => {
  s3.close().then(() => process.exit(0));
});
