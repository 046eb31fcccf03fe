#!/usr/bin/env node
import { reportError } from '@sessions/server';
import { CommanderError } from 'commander';
import { createProgram } from './program.js';

try {
  await createProgram().parseAsync();
} catch (error) {
  // Commander has printed its message (and help, when asked) already.
  if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
  else reportError(error);
}
