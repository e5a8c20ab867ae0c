/** `steward ml train pump` and `steward ml eval pump`. */
export async function run(verb: string): Promise<number> {
  const log = (l: string): void => void process.stdout.write(`${l}\n`);
  if (verb === 'train') {
    await (await import('./train.js')).trainPump(log);
    return 0;
  }
  const { evaluatePump, formatPumpEval } = await import('./evaluate.js');
  log(formatPumpEval(await evaluatePump(log)));
  return 0;
}
