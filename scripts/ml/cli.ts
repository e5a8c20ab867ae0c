/**
 * `steward ml …`: training, evaluation and scoring of Steward's models (issue 7).
 * Each subcommand imports its module only when it runs: `ml score` does not load TF.js.
 */
const HELP = `steward ml — models: train, evaluate, score

Usage:
  steward ml score --model univariate --csv FILE   score a timestamp,value CSV online; prints timestamp,anomaly_score
  steward ml eval nab [--data DIR]                 NAB scores: Steward's detector beside HTM, ARTime, windowed Gaussian
  steward ml train cmapss [--data DIR] [--out DIR] train the C-MAPSS FD001 RUL model (models/cmapss-rul)
        [--validate-only] [--no-test]              cross-validate only / write a candidate without reading the test set
        [--kind K] [--window N] [--repeats R] …   settings to compare by validation (docs/ml.md)
        [--no-cycle-feature] [--lr-plateau N]      without the cycle-number input (v2.1.0's inputs) / halve
                                                   the learning rate after N epochs without a better validation
  steward ml eval cmapss [--data DIR] [--out DIR]  RMSE and Saxena score of a model on the 100 test engines
        [--record]                                 and write them into its manifest (the chosen candidate, once)
  steward ml train pump                            train the pump anomaly and failure models from the simulator
  steward ml eval pump                             detection rate, false alarms per device-day, lead time on injected faults
`;

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function mlCommand(argv: string[]): Promise<number> {
  const [verb, what] = argv;
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  if (verb === 'score') {
    const model = flag(argv, 'model');
    const csv = flag(argv, 'csv');
    if (model !== 'univariate' || csv === undefined) {
      process.stderr.write(`steward ml score: give --model univariate --csv FILE (the pump models score device windows, not one CSV column)\n`);
      return 1;
    }
    await (await import('./score-csv.js')).scoreCsv(csv, out);
    return 0;
  }
  if (verb === 'eval' && what === 'nab') {
    const m = await import('./nab/eval-nab.js');
    const data = flag(argv, 'data');
    out(m.formatNab(data === undefined ? m.evaluateNab() : m.evaluateNab(data)));
    return 0;
  }
  if ((verb === 'train' || verb === 'eval') && (what === 'cmapss' || what === 'pump')) {
    const m = (await import(`./${what}/cli.js`)) as { run(verb: string, argv: string[]): Promise<number> };
    return m.run(verb, argv.slice(2));
  }
  process.stderr.write(HELP);
  return verb === undefined || verb === 'help' || verb === '--help' ? 0 : 1;
}
