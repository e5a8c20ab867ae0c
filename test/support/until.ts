/**
 * Waits for something a test cannot be told about directly (a device online, a batch
 * acknowledged): polls `probe` until it returns a value other than undefined or false,
 * for at most `ms`. A wait with a bound, never a timed assertion.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000, everyMs = 20): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
