import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1, closed again at once: the caller binds it right away (a small race, fine in tests). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
