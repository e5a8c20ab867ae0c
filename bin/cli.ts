/**
 * `steward <command>`: dispatches to the part that owns the command. Each part's CLI
 * module is imported only when its command runs, so `steward profile validate` does not
 * load the cloud, and `steward cloud` does not load the gateway.
 */
const HELP = `steward — edge gateway and cloud sync for property management

Usage:
  steward gateway --config site.yaml        run a community's gateway
  steward gateway hash-password             a password hash for a user in site.yaml (stdin)
  steward cloud [--host H] [--port N] [--database FILE|postgres://…]
                                            run the cloud service
  steward cloud gateway add --site ID --gateway ID [--database …]
                                            register a gateway, print its one-time enrolment token
  steward cloud user add --name NAME [--password P] [--database …]
                                            create a cloud login
  steward sim --config site.yaml [--control-port N]
                                            simulate the site's devices (Modbus, BACnet, ONVIF)
  steward profile validate FILE…            check device profiles or site configs (exit 1 on errors)
  steward demo [--data DIR]                 the demo community: simulators, gateway, cloud, fault API
  steward bench NAME [--quick]              run scripts/bench/NAME.ts
  steward ml score|eval|train …             models: NAB, C-MAPSS, pump models (steward ml help)

Docs: README.md and docs/ in the Steward repository.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'gateway':
      return (await import('../gateway/src/cli.js')).gatewayCommand(rest);
    case 'profile':
      return (await import('../gateway/src/cli.js')).profileCommand(rest);
    case 'cloud':
      return (await import('../cloud/src/cli.js')).cloudCommand(rest);
    case 'sim':
      return (await import('../scripts/sim/cli.js')).simCommand(rest);
    case 'demo':
      return (await import('../scripts/demo.js')).demoCommand(rest);
    case 'bench':
      return (await import('../scripts/bench/run.js')).benchCommand(rest);
    case 'ml':
      return (await import('../scripts/ml/cli.js')).mlCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`steward: unknown command "${command}"\n\n${HELP}`);
      return 1;
  }
}
