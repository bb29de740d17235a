/** The top-level help text. */
import { COMMON_HELP } from './args.ts';
import { EXIT_CODES_HELP } from './exit-codes.ts';

export const MAIN_USAGE = `Usage: switchboard COMMAND [options]

Commands:
  serve [--demo N]                          start the server (like npm start)
  nodes ls [--status S] [--power P]         list nodes
  nodes show NODE                           one node: power, the command out now, timing
  nodes add NAME --driver D [--param K=V]   create a node (admin)
  nodes rm NODE...                          delete nodes (admin)
  power on|off|cycle|soft-off|query NODE... request power actions (operator); --wait to wait for them
  lifecycle EVENT NODE...                   send a lifecycle event, e.g. commission, deploy, release (operator)
  watch [NODE...]                           live tail of node changes; Ctrl-C to stop
  token create NAME --role ROLE             create an API token (admin)

"switchboard COMMAND --help" shows a command's options.

${COMMON_HELP}

${EXIT_CODES_HELP}`;
