import type { Contender } from './contender.js';
import { oursCliWith } from './ours-cli.js';

/** The block engine: the file bulk-copied by a child process plus the snapshot's WAL frames. */
export const oursBlock: Contender = {
  ...oursCliWith('block', 'ours-block', 'ats backup, block engine (CLI)'),
  pairWithCp: true,
};
